"""attention v5 (kernels/cpu/attention.py): v4 with the row kernels in branch-free passes.

v4's row kernel does everything of a row in one loop over the keys: scale, causal test, mask,
the running maximum, and the NaN / +inf test, so the loop carries a branch and a serial
dependency (each maximum waits for the one before), and LLVM vectorizes none of it. Without a
mask and without dropout (a ViT's attention) v5 runs each row as separate passes, every one a
plain loop along the row (still in L1):

    scale          row[j] = s[j] * scale                        vectorized
    causal         row[j] = -inf for j > i                      only when causal
    NaN / +inf     count the scores that are not < +inf          vectorized (an integer sum)
    maximum        four running maxima, combined at the end      4 independent chains
    exp, sum       v4's exponential, the sum in four lanes       as v4
    normalize      row[j] *= 1 / total                           vectorized

and the backward's row sum D = sum_j p dp in four lanes too. A row with a NaN or +inf score, or
with every key masked, takes exactly v4's handling (the reference's). Measured at ViT-tiny's
attention (B = 256, L = S = 65): the row kernel 4.6-5.2 -> 3.2-3.7 ms (docs/kernels.md).
"""
import math

import numpy as np
from numba import njit, prange

from tinydl.kernels.cpu._attention_fastexp import exp_nonpositive, libm_row


@njit(cache=True, inline="always")
def _max4(row, S):
    full = S - S % 4
    m0 = m1 = m2 = m3 = -np.inf
    for j in range(0, full, 4):
        m0 = max(m0, row[j])
        m1 = max(m1, row[j + 1])
        m2 = max(m2, row[j + 2])
        m3 = max(m3, row[j + 3])
    for j in range(full, S):
        m0 = max(m0, row[j])
    return max(max(m0, m1), max(m2, m3))


@njit(cache=True, inline="always")
def _sum4(a, b, S):
    # sum_j a[j] * b[j] in float64, four lanes (b = ones: the plain sum of a, exactly)
    full = S - S % 4
    t0 = t1 = t2 = t3 = 0.0
    for j in range(0, full, 4):
        t0 += np.float64(a[j]) * b[j]
        t1 += np.float64(a[j + 1]) * b[j + 1]
        t2 += np.float64(a[j + 2]) * b[j + 2]
        t3 += np.float64(a[j + 3]) * b[j + 3]
    for j in range(full, S):
        t0 += np.float64(a[j]) * b[j]
    return (t0 + t1) + (t2 + t3)


@njit(cache=True, parallel=True)
def softmax_rows(s, L, is_causal, scale, lse, p_out, ones):
    """s (B*L, S) raw scores -> p_out = softmax(s * scale) (may be s), lse (B*L,); no mask, no
    dropout. ``ones`` (S,) of ones: the sum pass is _sum4(row, ones)."""
    R, S = s.shape
    for r in prange(R):
        i = r % L
        row = p_out[r]
        src = s[r]
        for j in range(S):
            row[j] = src[j] * scale
        if is_causal:
            for j in range(i + 1, S):
                row[j] = -np.inf
        bad = 0
        for j in range(S):
            bad += 0 if row[j] < np.inf else 1
        m = _max4(row, S)
        if bad == 0 and m == -np.inf:      # every key masked: all zeros (as v4)
            for j in range(S):
                row[j] = 0.0
            lse[r] = np.inf
            continue
        if bad:                            # a NaN or +inf score: as v4 and the reference
            m = 0.0
            total = libm_row(row, S)
        else:
            for j in range(S):
                row[j] = exp_nonpositive(np.float64(row[j]) - m)
            total = _sum4(row, ones, S)
        lse[r] = m + math.log(total)
        inv = 1.0 / total if total > 0.0 else 1.0
        for j in range(S):
            row[j] = row[j] * inv


@njit(cache=True, parallel=True)
def softmax_backward_rows(p, dp):
    """In place: dp (R, S) = dLoss/dp becomes ds = p * (dp - sum_j p dp); no dropout."""
    R, S = p.shape
    for r in prange(R):
        prow = p[r]
        drow = dp[r]
        d = _sum4(prow, drow, S)
        for j in range(S):
            drow[j] = prow[j] * (drow[j] - d)
