"""Batch norm: every version against the reference (training and inference, 4-D and 2-D), the
moving-statistics rule, hand-worked values, finite differences, PyTorch parity, bad input."""
import re

import numpy as np
import pytest
from helpers import TOL, assert_close, kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("batchnorm")


@pytest.fixture
def no_kernel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was reached before the input was checked")
    monkeypatch.setattr(tinydl.device, "backend", refuse)


def _params(rng, C, dtype=np.float64):
    return [(rng.standard_normal(C)).astype(dtype), rng.standard_normal(C).astype(dtype),
            rng.standard_normal(C).astype(dtype), (rng.random(C) + 0.5).astype(dtype)]


def _pass(x, params, dout, training, momentum=0.9, eps=1e-3):
    gamma, beta, rm, rv = params
    out, cache = ops.batchnorm_forward(x, gamma, beta, rm, rv, momentum, eps, training)
    return (out, *ops.batchnorm_backward(dout, cache), rm, rv)


def _compare(dev, version, x, training, rng, dtype=np.float64):
    C = x.shape[1]
    params = _params(rng, C)
    x = x.astype(dtype)
    dout = rng.standard_normal(x.shape).astype(dtype)
    with on(dev, "batchnorm", version):
        got = _pass(x, [p.astype(dtype) for p in params], dout, training)
    with on("reference"):
        want = _pass(x.astype(np.float64), [p.copy() for p in params], dout.astype(np.float64), training)
    for name, g, e in zip(("out", "dx", "dgamma", "dbeta", "moving_mean", "moving_var"), got, want, strict=True):
        assert g.shape == e.shape and g.dtype == np.dtype(dtype), name
        assert_close(g, e.astype(dtype), dtype)
    return got


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 3, 7, 5), (4, 13, 3, 3), (33, 7), (2, 1, 1, 1), (1, 5)])
def test_matches_reference(dev, version, training, dtype, shape, rng):
    if training and int(np.prod(shape)) // shape[1] == 1:
        shape = (2,) + shape[1:]    # training needs two values per channel for a finite gradient
    _compare(dev, version, rng.standard_normal(shape) * 2 + 1, training, rng, dtype)


@pytest.mark.parametrize("dev,version", CASES)
def test_outliers_and_large_offsets(dev, version, rng):
    # a channel with mean 1e4 and spread 1: the two-pass variance stays exact where E[x^2]-E[x]^2 would not
    x = rng.standard_normal((8, 3, 5, 5)) + np.array([1e4, -3e3, 0.0])[None, :, None, None]
    _compare(dev, version, x, True, rng)
    _compare(dev, version, x.astype(np.float32), True, rng, np.float32)


@pytest.mark.parametrize("dev,version", [("reference", None)] + [(c.values[0], c.values[1]) for c in CASES])
def test_hand_worked_values(dev, version):
    # one channel holding [1, 3] (2-D input (2, 1)): mean 2, biased var 1, eps 0 -> xhat [-1, 1]
    x = np.array([[1.0], [3.0]])
    gamma, beta = np.array([2.0]), np.array([0.5])
    rm, rv = np.array([10.0]), np.array([5.0])
    with on(dev, "batchnorm", version):
        out, cache = ops.batchnorm_forward(x, gamma, beta, rm, rv, momentum=0.75, eps=1e-300, training=True)
        dx, dgamma, dbeta = ops.batchnorm_backward(np.array([[1.0], [0.0]]), cache)
        inf, icache = ops.batchnorm_forward(x, gamma, beta, rm, rv, momentum=0.75, eps=1e-300, training=False)
        idx, _, _ = ops.batchnorm_backward(np.array([[1.0], [0.0]]), icache)
    np.testing.assert_allclose(out.ravel(), [-1.5, 2.5])
    np.testing.assert_allclose(rm, [0.75 * 10 + 0.25 * 2])      # 8.0
    np.testing.assert_allclose(rv, [0.75 * 5 + 0.25 * 1])       # 4.0
    # dbeta = 1, dgamma = -1; dx = gamma*inv*(dout - mean(dout) - xhat*mean(dout*xhat))
    #       = 2 * ([1, 0] - 0.5 - [-1, 1] * (-0.5)) = 2 * [0, 0] = [0, 0]
    np.testing.assert_allclose(dbeta, [1.0])
    np.testing.assert_allclose(dgamma, [-1.0])
    np.testing.assert_allclose(dx.ravel(), [0.0, 0.0], atol=1e-15)
    # inference: xhat = (x - 8) / 2, out = 2 * xhat + 0.5; the backward is the affine map's: gamma / 2
    np.testing.assert_allclose(inf.ravel(), [-6.5, -4.5])
    np.testing.assert_allclose(idx.ravel(), [1.0, 0.0])


def test_finite_differences_on_the_reference(rng):
    with on("reference"):
        for shape in [(3, 2, 3, 2), (5, 4)]:
            x = rng.standard_normal(shape)
            gamma, beta, rm, rv = _params(rng, shape[1])
            for training in (True, False):
                assert td.gradcheck((ops.batchnorm_forward, ops.batchnorm_backward),
                                    [x, gamma, beta, rm, rv], kwargs=dict(training=training),
                                    wrt=(0, 1, 2))      # the moving statistics have no gradient


@pytest.mark.parametrize("dev,version", CASES)
def test_views_equal_contiguous_copies(dev, version, rng):
    x = rng.standard_normal((6, 8, 5, 9))[::2, ::-2, :, 1::2]
    params = _params(rng, 4)
    dout = np.ones(x.shape)
    with on(dev, "batchnorm", version):
        a = _pass(x, [p.copy() for p in params], dout, True)
        b = _pass(np.ascontiguousarray(x), [p.copy() for p in params], dout, True)
    for g, e in zip(a, b, strict=True):
        np.testing.assert_array_equal(g, e)


def test_uint8_images_become_float32(rng):
    x = rng.integers(0, 256, size=(4, 3, 5, 5), dtype=np.uint8)
    params = _params(rng, 3, np.float32)
    rm0 = params[2].copy()
    out, _ = ops.batchnorm_forward(x, *params)
    assert out.dtype == np.float32
    with on("reference"):
        want, _ = ops.batchnorm_forward(x.astype(np.float64), *[p.astype(np.float64) for p in params[:2]],
                                        rm0.astype(np.float64), np.ones(3), 0.99, 1e-3, True)
    assert_close(out, want.astype(np.float32), np.float32)
    assert_close(params[2], (0.99 * rm0 + 0.01 * x.mean(axis=(0, 2, 3))).astype(np.float32), np.float32)


# -- PyTorch parity -------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("shape", [(4, 3, 5, 7), (2, 6, 3, 3), (9, 5), (1, 4, 2, 3), (16, 64, 8, 8)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_torch_parity(shape, dtype, rng):
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    gamma, beta, rm, rv = _params(rng, shape[1], dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    momentum, eps = 0.9, 1e-3
    rm0, rv0 = rm.copy(), rv.copy()
    out, dx, dgamma, dbeta, _, _ = _pass(x, [gamma, beta, rm, rv], dout, True, momentum, eps)

    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.tensor(beta, requires_grad=True)
    trm, trv = torch.tensor(rm0), torch.tensor(rv0)
    # PyTorch's momentum is the weight of the new batch: 1 - Keras's momentum
    ot = torch.nn.functional.batch_norm(xt, trm, trv, gt, bt, training=True, momentum=1 - momentum, eps=eps)
    ot.backward(torch.tensor(dout))
    tol = TOL[np.dtype(np.float64)] if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    for g, e in [(out, ot), (dx, xt.grad), (dgamma, gt.grad), (dbeta, bt.grad), (rm, trm)]:
        np.testing.assert_allclose(g, e.detach().numpy(), **tol)
    # PyTorch moves running_var toward the UNBIASED batch variance; Keras (and tinydl) the biased one
    m = x.size // shape[1]
    unbiased = (trv.numpy().astype(np.float64) - momentum * rv0) / (1 - momentum)
    np.testing.assert_allclose(rv, momentum * rv0 + (1 - momentum) * unbiased * (m - 1) / m, **tol)
    # inference with the same moving statistics is the same map in both
    oi, _ = ops.batchnorm_forward(x, gamma, beta, rm.copy(), rv.copy(), momentum, eps, training=False)
    ti = torch.nn.functional.batch_norm(torch.tensor(x), torch.tensor(rm), torch.tensor(rv),
                                        torch.tensor(gamma), torch.tensor(beta), training=False, eps=eps)
    np.testing.assert_allclose(oi, ti.numpy(), **tol)


# -- the lesson plan and bad input ---------------------------------------------------------
def test_versions_match_the_lesson_plan():
    module = td.device.backend("batchnorm", "cpu")
    listed = sorted(int(v) for v in re.findall(r"^v(\d+) ", module.__doc__, re.M))
    assert listed == sorted(module.VERSIONS) and module.DEFAULT in module.VERSIONS


def test_bad_input_fails_before_any_kernel(no_kernel):
    x = np.zeros((2, 3, 4, 4))
    ok = [np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)]
    with pytest.raises(ValueError, match=r"2-D or 4-D; received shape \(2, 3, 4\)"):
        ops.batchnorm_forward(np.zeros((2, 3, 4)), *ok)
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\); received \(4,\)"):
        ops.batchnorm_forward(x, np.ones(4), *ok[1:])
    with pytest.raises(ValueError, match=r"running_var must have shape \(3,\); received \(2,\)"):
        ops.batchnorm_forward(x, *ok[:3], np.ones(2))
    with pytest.raises(TypeError, match="running_mean must have the input's dtype float64; received float32"):
        ops.batchnorm_forward(x, *ok[:2], np.zeros(3, np.float32), ok[3])
    with pytest.raises(ValueError, match=r"writeable contiguous"):
        ops.batchnorm_forward(x, *ok[:2], np.zeros(6)[::2], ok[3])
    with pytest.raises(ValueError, match=r"momentum must be in \[0.0, 1.0\]. Received: batchnorm momentum=1.5"):
        ops.batchnorm_forward(x, *ok, momentum=1.5)
    with pytest.raises(ValueError, match=r"eps must be > 0.0. Received: batchnorm eps=0"):
        ops.batchnorm_forward(x, *ok, eps=0)


# -- batchnorm_relu: ReLU(batchnorm(x)) as one op ----------------------------------------------
def _relu_pass(x, params, dout, training):
    gamma, beta, rm, rv = params
    out, cache = ops.batchnorm_relu_forward(x, gamma, beta, rm, rv, 0.9, 1e-3, training)
    return (out, *ops.batchnorm_relu_backward(dout, cache), rm, rv)


def test_the_reference_batchnorm_relu_is_batchnorm_then_relu(rng):
    x = rng.standard_normal((3, 4, 5, 5))
    params, dout = _params(rng, 4), rng.standard_normal(x.shape)
    with on("reference"):
        got = _relu_pass(x, [p.copy() for p in params], dout, True)
        gamma, beta, rm, rv = [p.copy() for p in params]
        z, bn_cache = ops.batchnorm_forward(x, gamma, beta, rm, rv, 0.9, 1e-3, True)
        y, relu_cache = ops.relu_forward(z)
        dx, dgamma, dbeta = ops.batchnorm_backward(ops.relu_backward(dout, relu_cache), bn_cache)
    for g, e in zip(got, (y, dx, dgamma, dbeta, rm, rv), strict=True):
        np.testing.assert_array_equal(g, e)
    assert 0.2 < (got[0] == 0).mean() < 0.8          # the ReLU cut about half of the values


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 7, 5), (33, 7)])
def test_batchnorm_relu_matches_reference(dev, version, training, dtype, shape, rng):
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    params, dout = _params(rng, shape[1]), rng.standard_normal(shape).astype(dtype)
    with on(dev, "batchnorm", version):
        got = _relu_pass(x, [p.astype(dtype) for p in params], dout, training)
    with on("reference"):
        want = _relu_pass(x.astype(np.float64), [p.copy() for p in params], dout.astype(np.float64), training)
    for g, e in zip(got, want, strict=True):
        assert g.dtype == np.dtype(dtype)
        assert_close(tinydl.device.to_numpy(g), e.astype(dtype), dtype)


def test_batchnorm_relu_gradients_by_finite_differences(rng):
    x = rng.standard_normal((4, 3, 3, 3))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    dout = rng.standard_normal(x.shape)

    def loss(xv):
        out, _ = ops.batchnorm_relu_forward(xv, gamma, beta, np.zeros(3), np.ones(3), 0.9, 1e-3, True)
        return float((out * dout).sum())

    _, cache = ops.batchnorm_relu_forward(x, gamma, beta, np.zeros(3), np.ones(3), 0.9, 1e-3, True)
    dx = ops.batchnorm_relu_backward(dout, cache)[0]
    h = 1e-6
    for idx in [(0, 0, 0, 0), (1, 2, 1, 0), (3, 1, 2, 2), (2, 0, 1, 1)]:
        e = np.zeros_like(x)
        e[idx] = h
        assert abs((loss(x + e) - loss(x - e)) / (2 * h) - dx[idx]) < 1e-6


def test_batchnorm_relu_checks_its_input_like_batchnorm(no_kernel):
    with pytest.raises(ValueError, match="batchnorm gamma"):
        ops.batchnorm_relu_forward(np.ones((2, 3)), np.ones(4), np.zeros(3), np.zeros(3), np.ones(3))
    with pytest.raises(TypeError, match="batchnorm_relu_backward needs the cache"):
        ops.batchnorm_relu_backward(np.ones((2, 3)), None)
