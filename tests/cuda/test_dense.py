"""CUDA GEMM and dense against the NumPy reference (tiny shapes, every version)."""
import numpy as np
import pytest
from helpers import assert_close

from tinydl import device
from tinydl.kernels.reference import dense as ref

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]
DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("version", device.versions("dense", "cuda"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_gemm_every_version_and_transpose(rng, version, dtype, ta, tb):
    from tinydl.kernels.cuda._gemm import gemm
    # M=17, K=19, N=66: no multiple of 16 or 64; N=66 needs two of v3's 64-wide block tiles
    M, K, N = 17, 19, 66
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    bias = rng.standard_normal(N).astype(dtype)
    c = gemm(a, b, ta, tb, bias, version)
    assert c.dtype == dtype and c.shape == (M, N)
    expected = (a.T if ta else a) @ (b.T if tb else b) + bias
    assert_close(c, expected)


@pytest.mark.parametrize("version", device.versions("dense", "cuda"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape,units,bias", [((1, 7), 5, True), ((2, 3, 17), 18, True), ((5, 3), 4, False)])
def test_dense_every_version(rng, version, dtype, xshape, units, bias):
    cu = device.backend("dense", "cuda")
    x = rng.standard_normal(xshape).astype(dtype)
    w = rng.standard_normal((xshape[-1], units)).astype(dtype)
    b = rng.standard_normal(units).astype(dtype) if bias else None
    d = rng.standard_normal(xshape[:-1] + (units,)).astype(dtype)
    with device.use_version("dense", version, "cuda"):
        out, cache = cu.dense_forward(x, w, b)
        dx, dw, db = cu.dense_backward(device.to_device(d, "cuda"), cache)
    rout, rcache = ref.dense_forward(x, w, b)
    rdx, rdw, rdb = ref.dense_backward(d, rcache)
    assert device.is_device_array(out) and out.shape == rout.shape
    assert_close(out, rout)
    assert_close(dx, rdx)
    assert_close(dw, rdw)
    if bias:
        assert_close(db, rdb)
    else:
        assert db is None


def test_dense_hand_worked():
    # [1 2] @ [[1 0 2], [0 1 3]] + [10 20 30] = [11 22 38]
    cu = device.backend("dense", "cuda")
    out, _ = cu.dense_forward(np.array([[1.0, 2.0]]), np.array([[1.0, 0, 2], [0, 1, 3]]), np.array([10.0, 20, 30]))
    np.testing.assert_array_equal(device.to_numpy(out), [[11.0, 22.0, 38.0]])
