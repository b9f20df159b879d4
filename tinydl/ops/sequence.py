"""Sequence ops for transformers (family "sequence"): validation, then the device's kernels.

    patchify_forward(x, patch_size)      (N, C, H, W) -> (N, (H/p)(W/p), C*p*p)   ; backward -> dx
    concat_token_forward(x, token)       (N, L, E), (E,) -> (N, L+1, E)           ; backward -> dx, dtoken
    pos_embed_forward(x, pos)            (N, L, E) + (M, E)[:L], L <= M          ; backward -> dx, dpos (M, E)
    sequence_pool_forward(x, mode)       (N, L, E) -> (N, E), "cls" | "mean"      ; backward -> dx
    split_heads_forward(x, num_heads)    (N, L, H*D) -> (N, H, L, D)              ; backward -> dx
    merge_heads_forward(x)               (N, H, L, D) -> (N, L, H*D)              ; backward -> dx

Each forward returns (out, cache); each backward takes (dout, cache).
"""
import numpy as np

from tinydl import device as _device
from tinydl.ops import _checks


def _k():
    return _device.backend("sequence")


def _dout(dout, shape, dtype):
    dout = _checks.as_float(dout, "dout")
    _checks.shape_is(dout, "dout", shape)
    if np.dtype(dout.dtype) != dtype:
        raise TypeError(f"dout must have the forward's dtype {dtype}; received {np.dtype(dout.dtype)}")
    return dout


def _out_cache(result, x, out_shape=None):
    out, cache = result
    return out, (cache, tuple(out.shape), tuple(x.shape), np.dtype(x.dtype))


def patchify_forward(x, patch_size):
    x = _checks.as_float(x, "x")
    _checks.ndim(x, "x", 4)
    p = _checks.positive_int(patch_size, "patch_size")
    N, C, H, W = (int(d) for d in x.shape)
    if H % p or W % p:
        raise ValueError(
            f"image height and width must be multiples of patch_size={p}; received an image "
            f"of {H}x{W} (x of shape {tuple(x.shape)})"
        )
    return _out_cache(_k().patchify_forward(x, p), x)


def patchify_backward(dout, cache):
    kc, out_shape, _, dtype = cache
    return _k().patchify_backward(_dout(dout, out_shape, dtype), kc)


def concat_token_forward(x, token):
    x, token = _checks.as_float(x, "x"), _checks.as_float(token, "token")
    _checks.ndim(x, "x", 3)
    _checks.same_dtype(x, token=token)
    _checks.shape_is(token, "token", (int(x.shape[2]),))
    return _out_cache(_k().concat_token_forward(x, token), x)


def concat_token_backward(dout, cache):
    kc, out_shape, _, dtype = cache
    return _k().concat_token_backward(_dout(dout, out_shape, dtype), kc)


def pos_embed_forward(x, pos):
    x, pos = _checks.as_float(x, "x"), _checks.as_float(pos, "pos")
    _checks.ndim(x, "x", 3)
    _checks.ndim(pos, "pos", 2)
    _checks.same_dtype(x, pos=pos)
    N, L, E = (int(d) for d in x.shape)
    M = int(pos.shape[0])
    if int(pos.shape[1]) != E or L > M:
        raise ValueError(
            f"pos must have shape (max_length >= {L}, {E}) for x of shape {tuple(x.shape)}; "
            f"received pos of shape {tuple(pos.shape)}"
        )
    return _out_cache(_k().pos_embed_forward(x, pos), x)


def pos_embed_backward(dout, cache):
    kc, out_shape, _, dtype = cache
    return _k().pos_embed_backward(_dout(dout, out_shape, dtype), kc)


def sequence_pool_forward(x, mode="cls"):
    x = _checks.as_float(x, "x")
    _checks.ndim(x, "x", 3)
    if mode not in ("cls", "mean"):
        raise ValueError(f"mode must be 'cls' or 'mean'; received {mode!r}")
    if int(x.shape[1]) < 1:
        raise ValueError(f"x must have at least one token; received shape {tuple(x.shape)}")
    return _out_cache(_k().sequence_pool_forward(x, mode), x)


def sequence_pool_backward(dout, cache):
    kc, out_shape, _, dtype = cache
    return _k().sequence_pool_backward(_dout(dout, out_shape, dtype), kc)


def split_heads_forward(x, num_heads):
    x = _checks.as_float(x, "x")
    _checks.ndim(x, "x", 3)
    h = _checks.positive_int(num_heads, "num_heads")
    if int(x.shape[2]) % h:
        raise ValueError(
            f"the feature size must be divisible by num_heads={h}; received x of shape {tuple(x.shape)}"
        )
    return _out_cache(_k().split_heads_forward(x, h), x)


def split_heads_backward(dout, cache):
    kc, out_shape, _, dtype = cache
    return _k().split_heads_backward(_dout(dout, out_shape, dtype), kc)


def merge_heads_forward(x):
    x = _checks.as_float(x, "x")
    _checks.ndim(x, "x", 4)
    return _out_cache(_k().merge_heads_forward(x), x)


def merge_heads_backward(dout, cache):
    kc, out_shape, _, dtype = cache
    return _k().merge_heads_backward(_dout(dout, out_shape, dtype), kc)
