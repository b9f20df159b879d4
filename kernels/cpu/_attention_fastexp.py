"""attention v4 (kernels/cpu/attention.py): v1/v3 with a softmax whose exponentials vectorize.

At ViT-tiny's shapes (B = 64 images x 4 heads, L = S = 65, head size 16) the score GEMMs are
small and v1's row kernel is most of the forward: one libm `math.exp` call per score (1.1 M of
them), about 9 of the forward's 12 ms on one core, where PyTorch's vectorized exp takes its
whole attention in 3.6. v4's row kernel computes the exponentials of the max-subtracted scores
(all <= 0) without a call:

    exp(x) = exp(x / 256) ** 256:  exp(x / 256) by its Taylor series to degree 7 (|x / 256| <=
    0.34 for x >= -87.3, truncation < 6e-9, so < 1.5e-6 relative after the 8 squarings, and far
    less for the scores that matter: 2e-16 for x >= -10), then 8 squarings; 0 below -87.3
    (where float32 underflows anyway) and at -inf (masked scores), NaN kept as NaN

in float64, a loop of multiply-adds that LLVM vectorizes; the row sum runs in four lanes after
it. Everything else (scale, causal triangle, mask, fully masked rows, dropout hash, the stored
logsumexp) is v1's row kernel, and the backward is v1's (it keeps p, no exponentials). A row
whose maximum is not finite (a NaN or +inf score, or every key masked) takes v1's libm path,
so NaN and inf propagate as on the reference. Scores beyond v3's budget take v3's chunked path
(and v3's backward).
"""
import math

import numpy as np
from numba import njit, prange

from tinydl.kernels.cpu import _attention_rows as rows


@njit(cache=True, inline="always")
def exp_nonpositive(x):
    # exp(x) for x <= 0 without a libm call (see the module docstring)
    y = x * (1.0 / 256.0)
    p = 1.0 + y * (1.0 + y * (0.5 + y * (1.0 / 6 + y * (1.0 / 24 + y * (1.0 / 120 + y * (1.0 / 720 + y / 5040))))))
    for _ in range(8):
        p = p * p
    return p if x >= -87.3 else (x if x != x else 0.0)


@njit(cache=True, inline="always")
def libm_row(row, S):
    """A row with a NaN or +inf score, as the reference computes it: the maximum (not finite) is
    replaced by 0, so row[j] = exp(score) by libm; returns the divisor: the sum, or 1 where the
    sum is NaN (p = exp(score)); an inf sum gives 0 and inf / inf = NaN."""
    total = 0.0
    for j in range(S):
        row[j] = math.exp(row[j])
        total += row[j]
    return total if total > 0.0 else 1.0


@njit(cache=True, parallel=True)
def softmax_rows(s, L, mask, mask_index, has_mask, is_causal, scale, dropout_p, key, lse, p_out,
                 pd_out, want_pd):
    """v1's row kernel (kernels/cpu/_attention_rows.softmax_rows with Rc = L, i0 = 0) with the
    vectorized exponential: s (B*L, S) raw scores -> p_out = softmax(s*scale + mask) (may be s),
    lse (B*L,), and pd_out = p * the dropout factor if want_pd."""
    R, S = s.shape
    Lm, Sm = mask.shape[1], mask.shape[2]
    inv_keep = 1.0 / (1.0 - dropout_p) if dropout_p > 0.0 else 1.0
    full = S - S % 4
    for r in prange(R):
        b, i = r // L, r % L
        mb = mask_index[b] if has_mask else 0
        mi = i if Lm > 1 else 0
        row = p_out[r]
        # step 1: scaled, masked scores and the row maximum (NaN if a score is NaN)
        m = -np.inf
        nonfinite = False                # a NaN or +inf score (from q, k or the mask)
        for j in range(S):
            x = s[r, j] * scale
            if is_causal and j > i:
                x = -np.inf
            if has_mask:
                x = x + mask[mb, mi, j if Sm > 1 else 0]
            row[j] = x
            if x > m:
                m = x
            if x != x or x == np.inf:
                nonfinite = True
        if m == -np.inf and not nonfinite:   # a fully masked row: all zeros
            for j in range(S):
                row[j] = 0.0
            lse[r] = np.inf
            if want_pd:
                for j in range(S):
                    pd_out[r, j] = 0.0
            continue
        if nonfinite:
            m = 0.0
            total = libm_row(row, S)
        else:
            # step 2: the exponentials (vectorized), then their sum in four lanes
            for j in range(S):
                row[j] = exp_nonpositive(np.float64(row[j]) - m)
            t0 = t1 = t2 = t3 = 0.0
            for j in range(0, full, 4):
                t0 += row[j]
                t1 += row[j + 1]
                t2 += row[j + 2]
                t3 += row[j + 3]
            for j in range(full, S):
                t0 += row[j]
            total = (t0 + t1) + (t2 + t3)
        lse[r] = m + math.log(total)
        # step 3: normalize, and the dropped-out copy
        inv = 1.0 / total if total > 0.0 else 1.0
        for j in range(S):
            row[j] = row[j] * inv
        if want_pd:
            base = (b * L + i) * S
            for j in range(S):
                if dropout_p > 0.0:
                    pd_out[r, j] = row[j] * rows.keep_scale(key, base + j, dropout_p, inv_keep)
                else:
                    pd_out[r, j] = row[j]


def forward_v4(q, k, v, mask_args, dropout_p, is_causal, scale, seed):
    # q (B, L, E), k (B, S, E), v (B, S, Ev) -> out (B, L, Ev) and v1's cache contents
    m, mi, has_mask = mask_args
    B, L, _ = q.shape
    S = k.shape[1]
    p = np.matmul(q, k.transpose(0, 2, 1))                       # (B, L, S) by BLAS
    want_pd = dropout_p > 0.0
    pd = np.empty_like(p) if want_pd else p
    lse = np.empty(B * L, dtype=q.dtype)
    softmax_rows(p.reshape(B * L, S), L, m, mi, has_mask, is_causal, scale, dropout_p,
                 rows.seed_key(seed), lse, p.reshape(B * L, S), pd.reshape(B * L, S), want_pd)
    out = np.matmul(pd, v)
    return out, (q, k, v, p, pd, dropout_p, seed, scale)
