"""Row kernels shared by the CPU attention versions (kernels/cpu/attention.py).

Each works on rows of a score matrix that a BLAS GEMM produced (v1: all of (B, L, S); v3: a chunk
of query rows of one batch entry): scale, causal triangle, additive mask, a softmax that gives 0
for a fully masked row, and dropout from the same splitmix64 hash of (key = mix(seed), index) as the reference
(kernels/reference/attention.py), so masks agree bit for bit across devices.
"""
import math

import numpy as np
from numba import njit, prange

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)


@njit(cache=True)
def _mix(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def seed_key(seed):
    # key = mix(seed), computed once per call (the foundation's dropout does the same); kept a
    # NumPy uint64 so Numba types it as uint64 (a Python int above 2**63 would overflow int64)
    return np.uint64(_mix(np.uint64(seed)))


@njit(cache=True)
def uniform(key, index):
    # u(i) = (mix(key + (i + 1) * GOLDEN) >> 11) * 2^-53; index of weight (b, i, j) is (b*L + i)*S + j
    z = _mix(key + (np.uint64(index) + _ONE) * _GOLDEN)
    return np.float64(z >> _S11) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def keep_scale(key, index, dropout_p, inv_keep):
    # the dropout factor of one weight: 1/(1-p) if kept, 0 if dropped
    return inv_keep if uniform(key, index) >= dropout_p else 0.0


@njit(cache=True, parallel=True)
def softmax_rows(s, Rc, i0, L, mask, mask_index, has_mask, is_causal, scale,
                 dropout_p, key, lse, p_out, pd_out, want_pd):
    """s (B*Rc, S) raw scores q k^T of the query rows i0 .. i0+Rc-1 of every batch entry
    (row r is b = r // Rc, i = i0 + r % Rc; Rc = L, i0 = 0 for all rows). Writes
    p_out = softmax(s*scale + mask), lse (B*Rc,) = each row's logsumexp (+inf for a fully
    masked row) and, if want_pd, pd_out = p * dropout factor. p_out may be s itself."""
    R, S = s.shape
    Lm, Sm = mask.shape[1], mask.shape[2]
    inv_keep = 1.0 / (1.0 - dropout_p) if dropout_p > 0.0 else 1.0
    for r in prange(R):
        b, i = r // Rc, i0 + r % Rc
        mb = mask_index[b] if has_mask else 0
        mi = i if Lm > 1 else 0
        # step 1: scaled, masked scores and the row maximum (NaN if a score is NaN)
        m = -np.inf
        for j in range(S):
            x = s[r, j] * scale
            if is_causal and j > i:
                x = -np.inf
            if has_mask:
                x = x + mask[mb, mi, j if Sm > 1 else 0]
            p_out[r, j] = x
            if x > m or x != x:
                m = x if m == m else m
        # step 2: exponentials and their sum. As the reference: a non-finite maximum (NaN, +inf,
        # or -inf for a fully masked row) is replaced by 0, so NaN and inf propagate as there
        if not (m > -np.inf and m < np.inf):
            m = 0.0
        total = 0.0
        for j in range(S):
            e = math.exp(p_out[r, j] - m)
            p_out[r, j] = e
            total += e
        # p = e / total, or e itself when total is not > 0 (0 for a fully masked row, NaN if a
        # score was NaN); lse is what the backward's recompute needs: p = exp(score - lse)
        if total > 0.0:
            lse[r] = m + math.log(total)
        elif total != total:
            lse[r] = m
        else:
            lse[r] = np.inf
        # step 3: normalize, and the dropped-out copy
        inv = 1.0 / total if total > 0.0 else 1.0
        base = (b * L + i) * S
        for j in range(S):
            pj = p_out[r, j] * inv
            p_out[r, j] = pj
            if want_pd:
                if dropout_p > 0.0:
                    pd_out[r, j] = pj * keep_scale(key, base + j, dropout_p, inv_keep)
                else:
                    pd_out[r, j] = pj


@njit(cache=True, parallel=True)
def recompute_rows(s, Rc, i0, L, mask, mask_index, has_mask, is_causal, scale, lse,
                   p_out, dropout_p, key, pd_out, want_pd):
    """The backward's recompute, rows as in softmax_rows: p_out = exp(s*scale + mask - lse)
    (a fully masked row has lse = +inf and gets zeros) and, if want_pd, pd_out = p * dropout
    factor."""
    R, S = s.shape
    Lm, Sm = mask.shape[1], mask.shape[2]
    inv_keep = 1.0 / (1.0 - dropout_p) if dropout_p > 0.0 else 1.0
    for r in prange(R):
        b, i = r // Rc, i0 + r % Rc
        mb = mask_index[b] if has_mask else 0
        mi = i if Lm > 1 else 0
        base = (b * L + i) * S
        for j in range(S):
            x = s[r, j] * scale
            if is_causal and j > i:
                x = -np.inf
            if has_mask:
                x = x + mask[mb, mi, j if Sm > 1 else 0]
            pj = math.exp(x - lse[r])
            p_out[r, j] = pj
            if want_pd:
                pd_out[r, j] = pj * keep_scale(key, base + j, dropout_p, inv_keep)


@njit(cache=True, parallel=True)
def softmax_backward_rows(p, dpd, Rc, i0, L, dropout_p, key, delta, use_delta):
    """In place: dpd (R, S) = dLoss/d(dropped weights) becomes ds = dLoss/d(scores) (before the
    scale): dp = dpd * dropout factor; ds = p * (dp - D) with D = sum_j p dp (or ``delta`` (R,)
    = rowsum(dout * out), the same number, when use_delta). Rows as in softmax_rows."""
    R, S = p.shape
    inv_keep = 1.0 / (1.0 - dropout_p) if dropout_p > 0.0 else 1.0
    for r in prange(R):
        b, i = r // Rc, i0 + r % Rc
        base = (b * L + i) * S
        if dropout_p > 0.0:
            for j in range(S):
                dpd[r, j] = dpd[r, j] * keep_scale(key, base + j, dropout_p, inv_keep)
        if use_delta:
            d = delta[r]
        else:
            d = 0.0
            for j in range(S):
                d += p[r, j] * dpd[r, j]
        for j in range(S):
            dpd[r, j] = p[r, j] * (dpd[r, j] - d)


@njit(cache=True, parallel=True)
def row_dots(a, c):
    """(R,) = sum over the last axis of a * c, both (R, F): D = rowsum(dout * out)."""
    R, F = a.shape
    out = np.empty(R, dtype=a.dtype)
    for r in prange(R):
        acc = 0.0
        for f in range(F):
            acc += a[r, f] * c[r, f]
        out[r] = acc
    return out
