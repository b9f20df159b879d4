"""Scaled dot-product attention in plain NumPy: the ground truth of every attention kernel.

Semantics of PyTorch's ``scaled_dot_product_attention``. The kernels receive input already
validated and flattened by tinydl/ops/attention.py:

    q (B, L, E), k (B, S, E), v (B, S, Ev)      B = the product of the leading batch dims
    mask        None, or an ADDITIVE float mask (Bm, Lm, Sm) of q's dtype, Lm in {1, L},
                Sm in {1, S} (a boolean mask arrives as 0 where True, -inf where False)
    mask_index  None, or int64 (B,): batch b reads mask[mask_index[b]] (batch broadcasting)
    dropout_p   float in [0, 1); seed an int (the dropout hash below)
    is_causal   bool: position i attends to keys j <= i (top-left aligned, as PyTorch)
    scale       float (the op layer fills in 1/sqrt(E))

Fully masked rows (every score -inf) give output 0 and zero gradients, as PyTorch 2.13's
math backend does, instead of the 0/0 = NaN of a textbook softmax.
"""
import numpy as np

# splitmix64 constants: the dropout mask is a counter-based hash of (seed, flat index), the same
# as the foundation's dropout (kernels/reference/dropout.py), so every device draws the same mask
# for the same seed without sharing a random-number state:
#     key = mix(seed);  u(i) = (mix(key + (i + 1) * GOLDEN) >> 11) * 2^-53
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def dropout_uniform(seed, index):
    """Uniform numbers in [0, 1) from splitmix64 of (seed, index); index an integer array."""
    with np.errstate(over="ignore"):
        key = _mix(np.array([seed], dtype=np.uint64))[0]
        z = _mix(key + (index.astype(np.uint64) + np.uint64(1)) * _GOLDEN)
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def dropout_keep(seed, B, L, S, dropout_p):
    """Boolean (B, L, S): True where the attention weight is kept (u >= dropout_p).
    The index of weight (b, i, j) is (b*L + i)*S + j."""
    index = np.arange(B * L * S, dtype=np.int64).reshape(B, L, S)
    return dropout_uniform(seed, index) >= dropout_p


def _scores(q, k, mask, mask_index, is_causal, scale):
    # scores (B, L, S) = q k^T * scale (+ mask) (-inf above the causal diagonal)
    s = np.matmul(q, np.swapaxes(k, 1, 2)) * scale
    if is_causal:
        L, S = s.shape[1], s.shape[2]
        above = np.triu(np.ones((L, S), dtype=bool), k=1)
        s = np.where(above, -np.inf, s)
    if mask is not None:
        s = s + mask[mask_index]  # (B, Lm, Sm) broadcasts over (B, L, S)
    return s


def _safe_softmax(s):
    # softmax over the last axis; a row of only -inf gives zeros instead of NaN
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(s - m)
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


def attention_forward(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed):
    # q (B, L, E), k (B, S, E), v (B, S, Ev) -> out (B, L, Ev)
    B, L, _ = q.shape
    S = k.shape[1]
    # step 1: scores and softmax -> attention weights p (B, L, S)
    p = _safe_softmax(_scores(q, k, mask, mask_index, is_causal, scale))
    # step 2: dropout on the weights (inverted: kept weights scaled by 1/(1-p))
    if dropout_p > 0.0:
        drop = dropout_keep(seed, B, L, S, dropout_p) / (1.0 - dropout_p)
    else:
        drop = None
    pd = p if drop is None else p * drop
    # step 3: weighted sum of the values
    out = np.matmul(pd, v).astype(q.dtype)
    cache = (q, k, v, p, drop, scale)
    return out, cache


def attention_backward(dout, cache):
    # dout (B, L, Ev) -> dq (B, L, E), dk (B, S, E), dv (B, S, Ev)
    q, k, v, p, drop, scale = cache
    pd = p if drop is None else p * drop
    # step 1: through out = pd v
    dv = np.matmul(np.swapaxes(pd, 1, 2), dout)
    dpd = np.matmul(dout, np.swapaxes(v, 1, 2))
    # step 2: through dropout, then the softmax: ds = p * (dp - sum_j p dp)
    dp = dpd if drop is None else dpd * drop
    ds = p * (dp - (p * dp).sum(axis=-1, keepdims=True))
    # step 3: through scores = q k^T * scale (masked entries have p = 0, so ds = 0 there)
    dq = np.matmul(ds, k) * scale
    dk = np.matmul(np.swapaxes(ds, 1, 2), q) * scale
    dt = q.dtype
    return dq.astype(dt), dk.astype(dt), dv.astype(dt)
