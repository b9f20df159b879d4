"""Sequence ops (transformer plumbing): cpu against the reference, patch arithmetic,
finite differences, bad input."""
import numpy as np
import pytest
from helpers import assert_close, kernel_cases, on

import tinydl as td
from tinydl import device, ops

CASES = kernel_cases("sequence")


def _pairs(rng, dtype):
    return [
        (ops.patchify_forward, ops.patchify_backward, (rng.standard_normal((2, 3, 8, 12)).astype(dtype), 4), {}),
        (ops.concat_token_forward, ops.concat_token_backward,
         (rng.standard_normal((3, 5, 7)).astype(dtype), rng.standard_normal(7).astype(dtype)), {}),
        (ops.pos_embed_forward, ops.pos_embed_backward,
         (rng.standard_normal((3, 5, 7)).astype(dtype), rng.standard_normal((9, 7)).astype(dtype)), {}),
        (ops.sequence_pool_forward, ops.sequence_pool_backward, (rng.standard_normal((3, 5, 7)).astype(dtype), "cls"), {}),
        (ops.sequence_pool_forward, ops.sequence_pool_backward, (rng.standard_normal((3, 5, 7)).astype(dtype), "mean"), {}),
        (ops.split_heads_forward, ops.split_heads_backward, (rng.standard_normal((2, 5, 12)).astype(dtype), 3), {}),
        (ops.merge_heads_forward, ops.merge_heads_backward, (rng.standard_normal((2, 3, 5, 4)).astype(dtype),), {}),
    ]


def _both(fwd, bwd, args, dout, dev, version):
    with on(dev, "sequence", version):
        out, cache = fwd(*args)
        grads = bwd(dout, cache)
    return (out,) + (grads if isinstance(grads, tuple) else (grads,))


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_reference(dev, version, dtype, rng):
    for fwd, bwd, args, _ in _pairs(rng, dtype):
        with device.using("reference"):
            shape = fwd(*args)[0].shape
        dout = rng.standard_normal(shape).astype(dtype)
        want = _both(fwd, bwd, args, dout, "reference", None)
        got = _both(fwd, bwd, args, dout, dev, version)
        for a, w in zip(got, want, strict=True):
            assert a.dtype == np.dtype(dtype), fwd.__name__
            assert_close(a, w)


def test_patch_arithmetic_vit_base():
    # a 224x224 RGB image with 16x16 patches: 196 tokens of 16*16*3 = 768 values
    x = np.arange(3 * 224 * 224, dtype=np.float32).reshape(1, 3, 224, 224)
    for dev in ("reference", "cpu"):
        with device.using(dev):
            p, _ = ops.patchify_forward(x, 16)
        assert p.shape == (1, 196, 768)
        # token 15 is row 1, column 1 of the 14x14 grid; values flatten as (C, ph, pw)
        np.testing.assert_array_equal(p[0, 15], x[0, :, 16:32, 16:32].reshape(-1))


def test_patchify_is_a_strided_convolution(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 8, 8))
    w = rng.standard_normal((5, 3, 4, 4))
    p, _ = ops.patchify_forward(x, 4)
    conv = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=4)
    want = conv.numpy().reshape(2, 5, 4).transpose(0, 2, 1)
    np.testing.assert_allclose(p @ w.reshape(5, -1).T, want, rtol=1e-10)


def test_reference_finite_differences(rng):
    with device.using("reference"):
        for fwd, bwd, args, _ in _pairs(rng, np.float64):
            arrays = [a for a in args if isinstance(a, np.ndarray)]
            options = [a for a in args if not isinstance(a, np.ndarray)]   # patch size, mode, heads

            def forward(*xs, f=fwd, opts=tuple(options)):
                return f(*xs, *opts)

            assert td.gradcheck((forward, bwd), arrays, atol=1e-7, rtol=1e-6), fwd.__name__


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_bad_input(dev, rng):
    with device.using(dev):
        with pytest.raises(ValueError, match=r"multiples of patch_size=4.*30x32"):
            ops.patchify_forward(np.zeros((1, 3, 30, 32)), 4)
        with pytest.raises(ValueError, match=r"token.*\(7,\).*\(6,\)"):
            ops.concat_token_forward(np.zeros((1, 5, 7)), np.zeros(6))
        with pytest.raises(ValueError, match=r"max_length >= 5.*\(4, 7\)"):
            ops.pos_embed_forward(np.zeros((1, 5, 7)), np.zeros((4, 7)))
        with pytest.raises(ValueError, match="'cls' or 'mean'.*'max'"):
            ops.sequence_pool_forward(np.zeros((1, 5, 7)), "max")
        with pytest.raises(ValueError, match=r"divisible by num_heads=3.*\(1, 5, 7\)"):
            ops.split_heads_forward(np.zeros((1, 5, 7)), 3)
