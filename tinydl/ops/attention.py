"""Attention ops: validation, then the active device's kernels (family "attention").

    attention_forward(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, seed=None)
        -> out, cache
    attention_backward(dout, cache) -> dq, dk, dv

PyTorch's scaled_dot_product_attention semantics: q (..., L, E), k (..., S, E), v (..., S, Ev)
with the same leading batch dims; a boolean mask takes part where True, a float mask is added
to the scores; both broadcast to (..., L, S). is_causal is the top-left aligned lower triangle
(key j <= query i) and excludes attn_mask. scale defaults to 1/sqrt(E). Dropout acts on the
attention weights with a counter-based hash of (seed, index), identical on every device.
A fully masked row gives output 0 and zero gradients (PyTorch 2.13's math backend gives 0 too).
"""
import math

import numpy as np

from tinydl import device as _device
from tinydl import random as _random
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward


def _prod(dims):
    n = 1
    for d in dims:
        n *= int(d)
    return n


def _normalize_mask(attn_mask, lead, L, S, dtype):
    """The mask as the kernels take it: additive (Bm, Lm, Sm) of ``dtype`` and int64 (B,)
    mapping each flattened batch index to its mask row."""
    host = _device.to_numpy(attn_mask)
    if host.dtype == np.bool_:
        additive = np.where(host, 0.0, -np.inf).astype(dtype)
    elif host.dtype.kind == "f":
        additive = host.astype(dtype)
    else:
        raise TypeError(f"attn_mask must be a boolean or float array; received dtype {host.dtype}")
    target = tuple(lead) + (L, S)
    try:
        fits = np.broadcast_shapes(host.shape, target) == target
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"attn_mask must broadcast to the scores' shape (..., L, S) = {target}; "
            f"received shape {host.shape}"
        )
    additive = additive.reshape((1,) * (len(target) - host.ndim) + host.shape)
    mlead, (Lm, Sm) = additive.shape[:-2], additive.shape[-2:]
    Bm = _prod(mlead)
    index = np.broadcast_to(np.arange(Bm, dtype=np.int64).reshape(mlead), tuple(lead))
    mask = np.ascontiguousarray(additive.reshape(Bm, Lm, Sm))
    mask_index = np.ascontiguousarray(index.reshape(-1))
    return mask, mask_index


def attention_forward(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, seed=None):
    q, k, v = _checks.as_float(q, "q"), _checks.as_float(k, "k"), _checks.as_float(v, "v")
    _checks.same_dtype(q, k=k, v=v)
    for name, a in (("q", q), ("k", k), ("v", v)):
        if len(a.shape) < 2:
            raise ValueError(f"{name} must be at least 2-D (..., length, features); received shape {tuple(a.shape)}")
        _checks.nonempty(a, name)
    lead = tuple(q.shape[:-2])
    L, E = int(q.shape[-2]), int(q.shape[-1])
    S, Ev = int(k.shape[-2]), int(v.shape[-1])
    if tuple(k.shape[:-2]) != lead or tuple(v.shape[:-2]) != lead:
        raise ValueError(
            f"q, k and v must have the same leading batch dims; received q {tuple(q.shape)}, "
            f"k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    if int(k.shape[-1]) != E:
        raise ValueError(
            f"k must have q's head size E={E} (last axis); received k of shape {tuple(k.shape)}"
        )
    if int(v.shape[-2]) != S:
        raise ValueError(
            f"v must have k's length S={S} (axis -2); received v of shape {tuple(v.shape)}"
        )
    p = _checks.finite_float(dropout_p, "dropout_p", 0.0, 1.0, high_open=True)
    if is_causal and attn_mask is not None:
        raise ValueError("is_causal=True and attn_mask must not be given together; "
                         "received both (fold the causal triangle into the mask instead)")
    scale = 1.0 / math.sqrt(E) if scale is None else _checks.finite_float(scale, "scale")
    if p > 0.0:
        seed = _random.new_seed() if seed is None else seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
            raise ValueError(f"seed must be an int in [0, 2**63); received {seed!r}")
        seed = int(seed)
    else:
        seed = 0
    B = _prod(lead)
    mask = mask_index = None
    if attn_mask is not None:
        mask, mask_index = _normalize_mask(attn_mask, lead, L, S, np.dtype(q.dtype))
        if _device.get_device() == "cuda":
            mask, mask_index = _device.to_device(mask), _device.to_device(mask_index)
    out, cache = run_forward(
        "attention", "attention", q.reshape(B, L, E), k.reshape(B, S, E), v.reshape(B, S, Ev),
        mask, mask_index, p, bool(is_causal), scale, seed,
        shape=lead + (L, Ev), meta=(lead, L, E, S, Ev),
    )
    return out.reshape(lead + (L, Ev)), cache


def attention_backward(dout, cache):
    dout = check_dout(dout, cache, "attention")
    lead, L, E, S, Ev = cache.meta
    B = _prod(lead)
    dq, dk, dv = run_backward("attention", "attention", cache, dout.reshape(B, L, Ev))
    return dq.reshape(lead + (L, E)), dk.reshape(lead + (S, E)), dv.reshape(lead + (S, Ev))


def causal_mask(L, S, attn_mask=None):
    """A boolean (L, S) top-left lower triangle (key j <= query i), combined with ``attn_mask``
    (logical and, broadcasting) when one is given: what MultiHeadAttention passes when it has
    both a causal flag and a mask. Host NumPy; the attention op moves it to the device."""
    tri = np.tril(np.ones((int(L), int(S)), dtype=bool))
    if attn_mask is None:
        return tri
    host = _device.to_numpy(attn_mask)
    if host.dtype != np.bool_:
        raise TypeError(f"attention_mask must be boolean to combine with a causal mask; received dtype {host.dtype}")
    return np.logical_and(host, tri)
