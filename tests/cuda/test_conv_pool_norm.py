"""CUDA conv2d, pooling, batch norm and layer norm against the NumPy reference (tiny shapes)."""
import numpy as np
import pytest
from helpers import assert_close

from tinydl import device
from tinydl.kernels.reference import batchnorm as ref_bn
from tinydl.kernels.reference import conv2d as ref_conv
from tinydl.kernels.reference import layernorm as ref_ln
from tinydl.kernels.reference import pool2d as ref_pool

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]
DTYPES = [np.float64, np.float32]


def cu(family):
    return device.backend(family, "cuda")


CONV_CASES = [((2, 3, 7, 6), (4, 3, 3, 2), (1, 1), (1, 1, 1, 1)),      # "same"-like, odd sizes
              ((1, 2, 9, 7), (3, 2, 3, 3), (2, 2), (0, 1, 0, 1)),      # batch 1, asymmetric pad
              ((2, 1, 5, 8), (2, 1, 2, 3), (2, 1), (1, 0, 2, 1))]


@pytest.mark.parametrize("version", device.versions("conv2d", "cuda"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,stride,padding", CONV_CASES)
def test_conv2d_every_version(rng, version, dtype, xs, ws, stride, padding):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    rout, rcache = ref_conv.conv2d_forward(x, w, b, stride, padding)
    d = rng.standard_normal(rout.shape).astype(dtype)
    with device.use_version("conv2d", version, "cuda"):
        out, cache = cu("conv2d").conv2d_forward(x, w, b, stride, padding)
        dx, dw, db = cu("conv2d").conv2d_backward(d, cache)
    rdx, rdw, rdb = ref_conv.conv2d_backward(d, rcache)
    assert out.shape == rout.shape and out.dtype == dtype
    for got, expected in ((out, rout), (dx, rdx), (dw, rdw), (db, rdb)):
        assert_close(got, expected)


def test_conv2d_hand_worked_1d_without_bias():
    # a 1x4 signal [1 2 3 4] with the kernel [1 0 -1], padding 1: [0-2, 1-3, 2-4, 3-0]
    x = np.array([[[[1.0, 2, 3, 4]]]])
    w = np.array([[[[1.0, 0, -1]]]])
    out, cache = cu("conv2d").conv2d_forward(x, w, None, (1, 1), (0, 0, 1, 1))
    np.testing.assert_array_equal(device.to_numpy(out), [[[[-2.0, -2, -2, 3]]]])
    assert cu("conv2d").conv2d_backward(np.ones((1, 1, 1, 4)), cache)[2] is None


POOL_CASES = [((2, 2), (2, 2), (0, 0, 0, 0)), ((3, 3), (2, 2), (1, 1, 1, 1)), ((3, 2), (1, 2), (0, 1, 1, 0))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pool,stride,padding", POOL_CASES)
@pytest.mark.parametrize("op", ["maxpool2d", "avgpool2d"])
def test_pooling(rng, dtype, pool, stride, padding, op):
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    x[0, 0, :2, :2] = 5.0                    # ties: the gradient goes to the first maximum
    rout, rcache = getattr(ref_pool, op + "_forward")(x, pool, stride, padding)
    d = rng.standard_normal(rout.shape).astype(dtype)
    out, cache = getattr(cu("pool2d"), op + "_forward")(x, pool, stride, padding)
    assert_close(out, rout)
    assert_close(getattr(cu("pool2d"), op + "_backward")(d, cache),
                 getattr(ref_pool, op + "_backward")(d, rcache))


@pytest.mark.parametrize("dtype", DTYPES)
def test_global_avgpool(rng, dtype):
    x = rng.standard_normal((2, 3, 5, 7)).astype(dtype)
    out, cache = cu("pool2d").global_avgpool2d_forward(x)
    rout, rcache = ref_pool.global_avgpool2d_forward(x)
    assert out.shape == (2, 3)
    assert_close(out, rout)
    d = rng.standard_normal((2, 3)).astype(dtype)
    assert_close(cu("pool2d").global_avgpool2d_backward(d, cache), ref_pool.global_avgpool2d_backward(d, rcache))


@pytest.mark.parametrize("version", device.versions("batchnorm", "cuda"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (37, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_every_version(rng, version, dtype, shape, training):
    # (37, 3): 37 values per channel, more than the 32 threads of v2's block
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    gamma, beta = rng.standard_normal(3).astype(dtype), rng.standard_normal(3).astype(dtype)
    rm, rv = rng.standard_normal(3).astype(dtype), (rng.random(3) + 0.5).astype(dtype)
    dm, dv = device.to_device(rm, "cuda"), device.to_device(rv, "cuda")
    d = rng.standard_normal(shape).astype(dtype)
    with device.use_version("batchnorm", version, "cuda"):
        out, cache = cu("batchnorm").batchnorm_forward(x, gamma, beta, dm, dv, 0.9, 1e-3, training)
        dx, dgamma, dbeta = cu("batchnorm").batchnorm_backward(d, cache)
    rout, rcache = ref_bn.batchnorm_forward(x, gamma, beta, rm, rv, 0.9, 1e-3, training)
    rdx, rdgamma, rdbeta = ref_bn.batchnorm_backward(d, rcache)
    for got, expected in ((out, rout), (dx, rdx), (dgamma, rdgamma), (dbeta, rdbeta), (dm, rm), (dv, rv)):
        assert_close(got, expected)


def test_batchnorm_updates_numpy_moving_stats_in_place(rng):
    x = rng.standard_normal((4, 2))
    rm, rv = np.zeros(2), np.ones(2)
    cu("batchnorm").batchnorm_forward(x, np.ones(2), np.zeros(2), rm, rv, 0.5, 1e-3, True)
    np.testing.assert_allclose(rm, 0.5 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(rv, 0.5 + 0.5 * x.var(axis=0), rtol=1e-12)


@pytest.mark.parametrize("version", device.versions("layernorm", "cuda"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 7), (2, 37)])
def test_layernorm_every_version(rng, version, dtype, shape):
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    gamma, beta = rng.standard_normal(shape[1]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    d = rng.standard_normal(shape).astype(dtype)
    with device.use_version("layernorm", version, "cuda"):
        out, cache = cu("layernorm").layernorm_forward(x, gamma, beta, 1e-3)
        grads = cu("layernorm").layernorm_backward(d, cache)
    rout, rcache = ref_ln.layernorm_forward(x, gamma, beta, 1e-3)
    assert_close(out, rout)
    for got, expected in zip(grads, ref_ln.layernorm_backward(d, rcache), strict=True):
        assert got.dtype == dtype
        assert_close(got, expected)
