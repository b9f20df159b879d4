"""RMSprop and Adagrad over several steps, on every device, against PyTorch's update rules.

Keras puts epsilon inside the square root (g / sqrt(v + eps)); PyTorch outside
(g / (sqrt(v) + eps)). So torch runs with eps=0 and tinydl with an epsilon far below v (1e-30):
both then compute g / sqrt(v) and must agree to rounding. Where the placement matters, a step
is worked by hand."""
import math

import numpy as np
import pytest
from helpers import on

import tinydl as td
from tinydl import device, optimizers

DEVICES = ["reference", "cpu"] + (
    [pytest.param("cuda", marks=pytest.mark.cuda)] if device.cuda_available() else [])


def _problem(dtype, steps=6):
    rng = np.random.default_rng(3)
    p0 = rng.normal(size=(5, 7)).astype(dtype)
    grads = [rng.normal(size=(5, 7)).astype(dtype) for _ in range(steps)]
    return p0, grads


def _run_tinydl(opt, p0, grads, dev):
    with on(dev):
        p = td.Parameter(device.to_device(p0.copy(), "cuda" if dev == "cuda" else "cpu"))
        for g in grads:
            p.grad = device.to_device(g.copy(), "cuda" if dev == "cuda" else "cpu")
            opt.step([p])
        return device.to_numpy(p.value)


def _run_torch(make, p0, grads):
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float64))
    opt = make([p])
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return p.detach().numpy()


def _tol(dtype):
    return dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)


@pytest.mark.torch
@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rho,momentum,wd", [(0.9, 0.0, 0.0), (0.8, 0.9, 0.0), (0.95, 0.5, 0.01)])
def test_rmsprop_matches_torch(dev, dtype, rho, momentum, wd):
    torch = pytest.importorskip("torch")
    p0, grads = _problem(dtype)
    lr = 0.01
    want = _run_torch(lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=rho, eps=0.0, momentum=momentum,
                                                     weight_decay=wd), p0, grads)
    opt = optimizers.RMSprop(lr, rho=rho, momentum=momentum, epsilon=1e-30, weight_decay=wd)
    got = _run_tinydl(opt, p0, grads, dev)
    np.testing.assert_allclose(got, want, **_tol(dtype))
    assert got.dtype == dtype


@pytest.mark.torch
@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("init,wd", [(0.1, 0.0), (0.0, 0.0), (0.5, 0.02)])
def test_adagrad_matches_torch(dev, dtype, init, wd):
    torch = pytest.importorskip("torch")
    p0, grads = _problem(dtype)
    lr = 0.05
    want = _run_torch(lambda ps: torch.optim.Adagrad(ps, lr=lr, initial_accumulator_value=init, eps=0.0,
                                                     weight_decay=wd), p0, grads)
    opt = optimizers.Adagrad(lr, initial_accumulator_value=init, epsilon=1e-30, weight_decay=wd)
    got = _run_tinydl(opt, p0, grads, dev)
    np.testing.assert_allclose(got, want, **_tol(dtype))


@pytest.mark.parametrize("dev", DEVICES)
def test_epsilon_inside_the_root_by_hand(dev):
    # one step, g = 1, eps = 1: RMSprop v = 0.1, p = 1 - 0.5 / sqrt(1.1);
    # Adagrad a = 0.1 + 1, p = 1 - 0.5 / sqrt(2.1)   (PyTorch would give 1 - 0.5 / (sqrt(v) + 1))
    one = [np.ones((1, 1))]
    got = _run_tinydl(optimizers.RMSprop(0.5, epsilon=1.0), np.ones((1, 1)), one, dev)
    assert got[0, 0] == pytest.approx(1 - 0.5 / math.sqrt(1.1), rel=1e-14)
    got = _run_tinydl(optimizers.Adagrad(0.5, epsilon=1.0), np.ones((1, 1)), one, dev)
    assert got[0, 0] == pytest.approx(1 - 0.5 / math.sqrt(2.1), rel=1e-14)


def test_rmsprop_momentum_by_hand():
    # lr 0.1, rho 0.5, momentum 0.5, g = 2 then 2: v1 = 2, inc1 = 0.2/sqrt(2), m1 = inc1;
    # v2 = 3, inc2 = 0.2/sqrt(3), m2 = 0.5 m1 + inc2; p = 0 - m1 - m2
    opt = optimizers.RMSprop(0.1, rho=0.5, momentum=0.5, epsilon=1e-30)
    got = _run_tinydl(opt, np.zeros((1, 1)), [np.full((1, 1), 2.0)] * 2, "cpu")
    m1 = 0.2 / math.sqrt(2)
    m2 = 0.5 * m1 + 0.2 / math.sqrt(3)
    assert got[0, 0] == pytest.approx(-m1 - m2, rel=1e-14)


def test_strings_and_keras_defaults():
    r, a = optimizers.get("rmsprop"), optimizers.get("adagrad")
    assert type(r) is optimizers.RMSprop and type(a) is optimizers.Adagrad
    assert (r.learning_rate, r.rho, r.momentum, r.epsilon) == (0.001, 0.9, 0.0, 1e-7)
    assert (a.learning_rate, a.initial_accumulator_value, a.epsilon) == (0.001, 0.1, 1e-7)


@pytest.mark.parametrize("make,match", [
    (lambda: optimizers.RMSprop(rho=1.0), "rho"),
    (lambda: optimizers.RMSprop(momentum=-0.1), "momentum"),
    (lambda: optimizers.Adagrad(initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda: optimizers.Adagrad(epsilon=0), "epsilon"),
])
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_fit_with_rmsprop_and_adagrad_lowers_the_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    for name, lr in (("rmsprop", 0.05), ("adagrad", 0.5)):
        model = td.Sequential([td.layers.Input((3,)), td.layers.Dense(1)])
        model.compile(optimizer=optimizers.get(name), loss="mse")
        model.optimizer.learning_rate = lr
        h = model.fit(x.astype(np.float32), y.astype(np.float32), epochs=5, verbose=0)
        assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]
