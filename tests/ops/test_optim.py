"""Optimizer updates: every device against the reference over several steps, hand-worked
values, PyTorch parity (SGD, momentum, Nesterov, weight decay, Adam, AdamW), bad input."""
import numpy as np
import pytest
from helpers import assert_close, kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("optim")
DTYPES = [np.float32, np.float64]
SGD = [dict(), dict(momentum=0.9), dict(momentum=0.9, nesterov=True), dict(momentum=0.5, weight_decay=0.01),
       dict(momentum=0.9, nesterov=True, weight_decay=0.1), dict(weight_decay=0.1)]
ADAM = [dict(), dict(weight_decay=0.1), dict(weight_decay=0.1, decoupled=True),
        dict(beta_1=0.5, beta_2=0.9, epsilon=1e-3)]


def _sgd_run(p0, grads, lr, kw):
    p = p0.copy()
    v = np.zeros_like(p) if kw.get("momentum", 0) else None
    for g in grads:
        ops.sgd_update(p, g, v, lr, **kw)
    return p, v


def _adam_run(p0, grads, lr, kw):
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        ops.adam_update(p, g, m, v, t, lr, **kw)
    return p, m, v


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 7), (33, 13), (2, 3, 5), (65, 67)])   # 4355: a parallel CPU loop
@pytest.mark.parametrize("kw", SGD, ids=str)
def test_sgd_matches_reference(dev, version, dtype, shape, kw, rng):
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(4)]
    with on(dev, "optim", version):
        got = _sgd_run(p0, grads, 0.1, kw)
    with on("reference"):
        want = _sgd_run(p0, grads, 0.1, kw)
    for g, w in zip(got, want, strict=True):
        if w is not None:
            assert g.dtype == dtype
            assert_close(g, w)


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 7), (33, 13), (2, 3, 5), (65, 67)])   # 4355: a parallel CPU loop
@pytest.mark.parametrize("kw", ADAM, ids=str)
def test_adam_matches_reference(dev, version, dtype, shape, kw, rng):
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(4)]
    with on(dev, "optim", version):
        got = _adam_run(p0, grads, 0.01, kw)
    with on("reference"):
        want = _adam_run(p0, grads, 0.01, kw)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == dtype
        assert_close(g, w)


@pytest.mark.parametrize("dev,version", CASES)
def test_noncontiguous_gradient(dev, version, rng):
    p0 = rng.standard_normal((13, 33))
    g = rng.standard_normal((33, 13)).T                       # a transposed view
    with on(dev, "optim", version):
        p = p0.copy()
        ops.sgd_update(p, g, None, 0.1)
        q, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
        ops.adam_update(q, g, m, v, 1, 0.01)
    assert_close(p, p0 - 0.1 * g)
    assert_close(m, 0.1 * np.asarray(g))


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_hand_worked_values(dev):
    with td.device.using(dev):
        # plain SGD: 1 - 0.1 * 0.5
        p = np.array([1.0])
        ops.sgd_update(p, np.array([0.5]), None, 0.1)
        assert p[0] == pytest.approx(0.95, rel=1e-15)
        # momentum 0.9, two steps of g = 1: v = 1 then 1.9; p = 1 - 0.1 - 0.19
        p, v = np.array([1.0]), np.zeros(1)
        for _ in range(2):
            ops.sgd_update(p, np.array([1.0]), v, 0.1, momentum=0.9)
        assert v[0] == pytest.approx(1.9, rel=1e-15) and p[0] == pytest.approx(0.71, rel=1e-15)
        # Nesterov, one step: v = 1, step = g + 0.9 v = 1.9
        p, v = np.array([1.0]), np.zeros(1)
        ops.sgd_update(p, np.array([1.0]), v, 0.1, momentum=0.9, nesterov=True)
        assert p[0] == pytest.approx(0.81, rel=1e-15)
        # Adam's first step is lr * g / (|g| + eps): about lr * sign(g)
        p, m, v = np.array([1.0, 1.0]), np.zeros(2), np.zeros(2)
        ops.adam_update(p, np.array([0.3, -2.0]), m, v, 1, 0.01, epsilon=1e-7)
        np.testing.assert_allclose(p, [1 - 0.01 * 0.3 / (0.3 + 1e-7), 1 + 0.01 * 2 / (2 + 1e-7)], rtol=1e-14)
        np.testing.assert_allclose(m, [0.03, -0.2], rtol=1e-14)
        np.testing.assert_allclose(v, [0.001 * 0.09, 0.001 * 4], rtol=1e-13)
        # AdamW with a zero gradient only shrinks: p (1 - lr wd)
        p, m, v = np.array([2.0]), np.zeros(1), np.zeros(1)
        ops.adam_update(p, np.zeros(1), m, v, 1, 0.1, weight_decay=0.5, decoupled=True)
        assert p[0] == pytest.approx(2.0 * (1 - 0.05), rel=1e-15)


@pytest.mark.parametrize("dev,version", CASES + [pytest.param("reference", None, id="reference")])
@pytest.mark.parametrize("kw", SGD, ids=str)
def test_sgd_torch_parity(dev, version, kw, rng):
    torch = pytest.importorskip("torch")
    p0 = rng.standard_normal((5, 4))
    grads = [rng.standard_normal((5, 4)) for _ in range(5)]
    with on(dev, "optim", version):
        p, _ = _sgd_run(p0, grads, 0.1, kw)
    tp = torch.tensor(p0, requires_grad=True)
    opt = torch.optim.SGD([tp], lr=0.1, momentum=kw.get("momentum", 0.0), nesterov=kw.get("nesterov", False),
                          weight_decay=kw.get("weight_decay", 0.0))
    for g in grads:
        tp.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dev,version", CASES + [pytest.param("reference", None, id="reference")])
@pytest.mark.parametrize("kw", ADAM, ids=str)
def test_adam_torch_parity(dev, version, kw, rng):
    torch = pytest.importorskip("torch")
    p0 = rng.standard_normal((5, 4))
    grads = [rng.standard_normal((5, 4)) for _ in range(5)]
    with on(dev, "optim", version):
        p, m, v = _adam_run(p0, grads, 0.01, kw)
    tp = torch.tensor(p0, requires_grad=True)
    cls = torch.optim.AdamW if kw.get("decoupled") else torch.optim.Adam
    opt = cls([tp], lr=0.01, betas=(kw.get("beta_1", 0.9), kw.get("beta_2", 0.999)),
              eps=kw.get("epsilon", 1e-7), weight_decay=kw.get("weight_decay", 0.0))
    for g in grads:
        tp.grad = torch.tensor(g)
        opt.step()
    state = opt.state[tp]
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m, state["exp_avg"].numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(v, state["exp_avg_sq"].numpy(), rtol=1e-12, atol=1e-15)


@pytest.fixture
def no_kernel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was reached before the input was checked")
    monkeypatch.setattr(tinydl.device, "backend", refuse)


P, G, Z = (lambda: np.ones((2, 3))), (lambda: np.ones((2, 3))), (lambda: np.zeros((2, 3)))


@pytest.mark.parametrize("call, error, words", [
    (lambda: ops.sgd_update(P(), G(), None, -0.1), ValueError, ["lr", ">= 0", "-0.1"]),
    (lambda: ops.sgd_update(P(), G(), Z(), 0.1, momentum=1.0), ValueError, ["momentum", "Received: momentum=1.0"]),
    (lambda: ops.sgd_update(P(), G(), None, 0.1, momentum=0.9), ValueError, ["velocity", "None"]),
    (lambda: ops.sgd_update(P(), G(), np.zeros((3, 2)), 0.1, momentum=0.9), ValueError, ["(2, 3)", "(3, 2)"]),
    (lambda: ops.sgd_update(P(), G(), None, 0.1, weight_decay=-1), ValueError, ["weight_decay", "-1"]),
    (lambda: ops.sgd_update(P(), np.ones((3, 2)), None, 0.1), ValueError, ["(2, 3)", "(3, 2)"]),
    (lambda: ops.sgd_update(P(), np.ones((2, 3), np.float32), None, 0.1), TypeError, ["float64", "float32"]),
    (lambda: ops.sgd_update(np.ones((3, 2)).T, G(), None, 0.1), ValueError, ["C-contiguous", "(2, 3)"]),
    (lambda: ops.adam_update(P(), G(), Z(), Z(), 0, 0.01), ValueError, ["t must", "0"]),
    (lambda: ops.adam_update(P(), G(), Z(), Z(), 1, 0.01, beta_1=1.0), ValueError, ["beta_1", "1.0"]),
    (lambda: ops.adam_update(P(), G(), Z(), Z(), 1, 0.01, beta_2=-0.1), ValueError, ["beta_2", "-0.1"]),
    (lambda: ops.adam_update(P(), G(), Z(), Z(), 1, 0.01, epsilon=0.0), ValueError, ["epsilon", "> 0", "0.0"]),
    (lambda: ops.adam_update(P(), G(), Z(), np.zeros((2, 3), np.float32), 1, 0.01), TypeError, ["float64", "float32"]),
    (lambda: ops.adam_update(P(), G(), np.zeros(6), Z(), 1, 0.01), ValueError, ["(2, 3)", "(6,)"]),
    (lambda: ops.adam_update(P(), G(), Z(), Z(), 1, float("nan")), ValueError, ["lr", "nan"]),
])
def test_bad_input_is_refused_before_any_kernel(no_kernel, call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value)
