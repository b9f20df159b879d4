"""CUDA attention against the NumPy reference (tiny shapes, every version)."""
import numpy as np
import pytest
from helpers import assert_close

from tinydl import device
from tinydl.kernels.reference import attention as ref

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]
DTYPES = [np.float64, np.float32]


def _inputs(rng, dtype, B=2, L=5, S=7, E=3, Ev=4):
    q = rng.standard_normal((B, L, E)).astype(dtype)
    k = rng.standard_normal((B, S, E)).astype(dtype)
    v = rng.standard_normal((B, S, Ev)).astype(dtype)
    d = rng.standard_normal((B, L, Ev)).astype(dtype)
    return q, k, v, d


def _run(version, q, k, v, d, mask=None, mask_index=None, dropout_p=0.0, is_causal=False, scale=0.7, seed=0):
    cu = device.backend("attention", "cuda")
    with device.use_version("attention", version, "cuda"):
        out, cache = cu.attention_forward(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed)
        grads = cu.attention_backward(device.to_device(d, "cuda"), cache)
    rout, rcache = ref.attention_forward(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed)
    assert out.dtype == q.dtype and out.shape == rout.shape
    assert_close(out, rout)
    for got, expected in zip(grads, ref.attention_backward(d, rcache), strict=True):
        assert got.dtype == q.dtype
        assert_close(got, expected)
    return device.to_numpy(out)


@pytest.mark.parametrize("version", device.versions("attention", "cuda"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_plain_and_causal(rng, version, dtype):
    q, k, v, d = _inputs(rng, dtype)
    q[0, 0, 0] = 30.0                       # a large score: the online max must rescale
    _run(version, q, k, v, d)
    _run(version, q, k, v, d, is_causal=True)


@pytest.mark.parametrize("version", device.versions("attention", "cuda"))
def test_float_and_boolean_masks_with_a_fully_masked_row(rng, version):
    q, k, v, d = _inputs(rng, np.float64)
    allowed = rng.random((1, 5, 7)) > 0.4
    allowed[0, 2, :] = False                 # row 2 sees no key: output 0, gradients 0
    mask = np.where(allowed, 0.0, -np.inf)
    out = _run(version, q, k, v, d, mask=mask, mask_index=np.zeros(2, dtype=np.int64))
    assert np.all(out[:, 2] == 0)
    float_mask = rng.standard_normal((2, 1, 7))            # broadcast over the query rows
    _run(version, q, k, v, d, mask=float_mask, mask_index=np.array([1, 0]))


@pytest.mark.parametrize("version", device.versions("attention", "cuda"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_matches_the_reference_mask(rng, version, dtype):
    q, k, v, d = _inputs(rng, dtype, B=1, L=4, S=6)
    _run(version, q, k, v, d, dropout_p=0.3, seed=12345)


def test_versions_agree_with_each_other(rng):
    q, k, v, d = _inputs(rng, np.float64, B=1, L=3, S=35, E=2, Ev=2)   # S past one warp
    first, *others = device.versions("attention", "cuda")
    a = _run(first, q, k, v, d, is_causal=True)
    for version in others:
        np.testing.assert_allclose(_run(version, q, k, v, d, is_causal=True), a, rtol=1e-12)
