"""CUDA losses, optimizer updates and dropout against the NumPy reference (tiny shapes)."""
import numpy as np
import pytest
from helpers import TOL, assert_close

from tinydl import device
from tinydl.kernels.reference import dropout as ref_drop
from tinydl.kernels.reference import losses as ref
from tinydl.kernels.reference import optim as ref_opt

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]
DTYPES = [np.float64, np.float32]


def cu(family):
    return device.backend(family, "cuda")


def _loss_close(got, expected, dtype):
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=TOL[np.dtype(dtype)]["rtol"] * 10, abs=1e-12)


@pytest.mark.parametrize("version", device.versions("losses", "cuda"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("n,c", [(3, 5), (2, 37)])
def test_softmax_cross_entropy_every_version(rng, version, dtype, soft, n, c):
    logits = (rng.standard_normal((n, c)) * 3).astype(dtype)
    logits[0, 1] = 1e4                       # an outlier stays finite
    if soft:
        labels = rng.random((n, c)).astype(dtype)
        labels /= labels.sum(axis=1, keepdims=True)
    else:
        labels = rng.integers(0, c, n).astype(np.int64)
    with device.use_version("losses", version, "cuda"):
        loss, cache = cu("losses").softmax_cross_entropy_forward(logits, labels)
        d = cu("losses").softmax_cross_entropy_backward(0.5, cache)
    rloss, rcache = ref.softmax_cross_entropy_forward(logits, labels)
    _loss_close(loss, rloss, dtype)
    assert device.is_device_array(d) and d.dtype == dtype
    assert_close(d, ref.softmax_cross_entropy_backward(0.5, rcache))


def test_softmax_cross_entropy_hand_worked():
    # logits [0, ln 3], label 1: p = [1/4, 3/4], loss = -ln(3/4) = ln(4/3)
    loss, cache = cu("losses").softmax_cross_entropy_forward(np.array([[0.0, np.log(3.0)]]), np.array([1]))
    assert loss == pytest.approx(np.log(4 / 3), rel=1e-14)
    np.testing.assert_allclose(device.to_numpy(cu("losses").softmax_cross_entropy_backward(1.0, cache)),
                               [[0.25, -0.25]], rtol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid_binary_cross_entropy", "binary_cross_entropy",
                                  "categorical_cross_entropy", "mse"])
def test_other_losses(rng, dtype, name):
    shape = (3, 5, 11) if name != "categorical_cross_entropy" else (7, 5)   # 165 > 128 threads
    if name == "sigmoid_binary_cross_entropy":
        a = (rng.standard_normal(shape) * 4).astype(dtype)
        a.flat[0] = 1e4
    elif name == "mse":
        a = rng.standard_normal(shape).astype(dtype)
    else:
        a = rng.uniform(0.01, 0.99, shape).astype(dtype)
        a.flat[0] = 1.0                       # clipped: zero gradient there
    y = rng.random(shape).astype(dtype)
    loss, cache = getattr(cu("losses"), name + "_forward")(a, y)
    rloss, rcache = getattr(ref, name + "_forward")(a, y)
    _loss_close(loss, rloss, dtype)
    d = getattr(cu("losses"), name + "_backward")(2.0, cache)
    assert_close(d, getattr(ref, name + "_backward")(2.0, rcache))


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_cross_entropy_int_labels(rng, dtype):
    p = rng.uniform(0.05, 1.0, (4, 6)).astype(dtype)
    labels = np.array([0, 5, 2, 2])
    loss, cache = cu("losses").categorical_cross_entropy_forward(p, labels)
    rloss, rcache = ref.categorical_cross_entropy_forward(p, labels)
    _loss_close(loss, rloss, dtype)
    assert_close(cu("losses").categorical_cross_entropy_backward(1.0, cache),
                 ref.categorical_cross_entropy_backward(1.0, rcache))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [dict(momentum=0.0), dict(momentum=0.9), dict(momentum=0.9, nesterov=True, weight_decay=0.01)])
def test_sgd_update_in_place(rng, dtype, kw):
    p, g = rng.standard_normal(133).astype(dtype), rng.standard_normal(133).astype(dtype)
    vel = np.zeros_like(p)
    dp, dvel = device.to_device(p, "cuda"), device.to_device(vel, "cuda")
    for _ in range(3):
        cu("optim").sgd_update(dp, g, dvel if kw["momentum"] else None, 0.1, **kw)
        ref_opt.sgd_update(p, g, vel if kw["momentum"] else None, 0.1, **kw)
    assert_close(dp, p)
    if kw["momentum"]:
        assert_close(dvel, vel)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [dict(), dict(weight_decay=0.1), dict(weight_decay=0.1, decoupled=True)])
def test_adam_update_in_place(rng, dtype, kw):
    p, g = rng.standard_normal((11, 13)).astype(dtype), rng.standard_normal((11, 13)).astype(dtype)
    m, v = np.zeros_like(p), np.zeros_like(p)
    dp, dm, dv = (device.to_device(a, "cuda") for a in (p, m, v))
    for t in range(1, 4):
        cu("optim").adam_update(dp, g, dm, dv, t, 0.01, epsilon=1e-7, **kw)
        ref_opt.adam_update(p, g, m, v, t, 0.01, epsilon=1e-7, **kw)
    for got, expected in ((dp, p), (dm, m), (dv, v)):
        assert_close(got, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_mask_bit_identical_to_cpu_and_reference(rng, dtype):
    x = rng.standard_normal((3, 5, 11)).astype(dtype)
    d = rng.standard_normal((3, 5, 11)).astype(dtype)
    out, cache = cu("dropout").dropout_forward(x, 0.4, 1234)
    rout, rcache = ref_drop.dropout_forward(x, 0.4, 1234)
    cout, _ = device.backend("dropout", "cpu").dropout_forward(x, 0.4, 1234)
    host = device.to_numpy(out)
    np.testing.assert_array_equal(host != 0, rout != 0)        # the same mask, bit for bit
    np.testing.assert_array_equal(host != 0, cout != 0)
    np.testing.assert_array_equal(host, rout)                   # the same scaled values
    dx = cu("dropout").dropout_backward(d, cache)
    np.testing.assert_array_equal(device.to_numpy(dx), ref_drop.dropout_backward(d, rcache))
    other, _ = cu("dropout").dropout_forward(x, 0.4, 1235)
    assert (device.to_numpy(other) != 0).tolist() != (host != 0).tolist()


def test_dropout_identity_when_not_training(rng):
    x = rng.standard_normal((2, 7))
    dx_in = device.to_device(x, "cuda")
    out, cache = cu("dropout").dropout_forward(dx_in, 0.5, 1, training=False)
    assert out is not dx_in
    np.testing.assert_array_equal(device.to_numpy(out), x)
    np.testing.assert_array_equal(device.to_numpy(cu("dropout").dropout_backward(x, cache)), x)
