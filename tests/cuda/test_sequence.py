"""CUDA sequence plumbing (patches, class token, positions, pooling, heads) against the reference."""
import numpy as np
import pytest
from helpers import assert_close

from tinydl import device
from tinydl.kernels.reference import sequence as ref

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]


def _check(name, fwd_args, rng):
    cu = device.backend("sequence", "cuda")
    out, cache = getattr(cu, name + "_forward")(*fwd_args)
    rout, rcache = getattr(ref, name + "_forward")(*fwd_args)
    assert out.shape == rout.shape and out.dtype == rout.dtype
    assert_close(out, rout)
    d = rng.standard_normal(rout.shape).astype(rout.dtype)
    got = getattr(cu, name + "_backward")(d, cache)
    want = getattr(ref, name + "_backward")(d, rcache)
    if isinstance(want, tuple):
        for g, w in zip(got, want, strict=True):
            assert_close(g, w)
    else:
        assert_close(got, want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_sequence_op(rng, dtype):
    img = rng.standard_normal((2, 3, 6, 9)).astype(dtype)
    seq = rng.standard_normal((2, 5, 6)).astype(dtype)
    _check("patchify", (img, 3), rng)
    _check("concat_token", (seq, rng.standard_normal(6).astype(dtype)), rng)
    _check("pos_embed", (seq, rng.standard_normal((7, 6)).astype(dtype)), rng)
    _check("sequence_pool", (seq, "cls"), rng)
    _check("sequence_pool", (seq, "mean"), rng)
    _check("split_heads", (seq, 3), rng)
    _check("merge_heads", (rng.standard_normal((2, 3, 5, 2)).astype(dtype),), rng)
