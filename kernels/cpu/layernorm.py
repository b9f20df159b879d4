"""Layer normalization on the CPU (Numba): the lesson plan.

x (R, E) -> out (R, E) over the last axis (the op layer flattens the leading axes);
gamma, beta (E,).

v1  rows are independent, so the forward is one prange over rows,
each row making two passes (mean, then the centred variance: the one-pass E[x^2] - E[x]^2 loses
digits when |mean| >> std) and a third that writes the output. The cache keeps xhat and
1/std per row (llm.c's layernorm keeps mean and rstd and recomputes xhat; keeping xhat trades
R*E memory for one less pass). The backward is one prange over rows for dx
(dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dout * gamma) and, for dgamma and dbeta
(sums over rows), a prange over row chunks writing per-chunk partial sums that are then added in
a fixed order: no two threads ever write the same number, and the result is deterministic.
Measured (ViT block shapes, R = 128*65, E = 64, float32): see docs/kernels.md, "layer norm".

v2  (kernels/cpu/_layernorm_v2.py) row sums in 8 independent lanes (v1's running scalar keeps
    the adds in order, latency-bound), mean and 1/std cached instead of xhat, and a one-pass
    backward whose row chunks also add their dgamma/dbeta partials. One core, under load,
    (128, 65, 64) fwd + bwd: see docs/kernels.md, "layer norm".
"""
import math

import numpy as np
from numba import njit, prange

from tinydl.kernels._versions import active
from tinydl.kernels.cpu import _layernorm_v2

CHUNKS = 16   # row chunks for the dgamma / dbeta partial sums


@njit(cache=True, parallel=True)
def _forward(x, gamma, beta, eps, out, xhat, rstd):
    R, E = x.shape
    for r in prange(R):
        # pass 1: the mean
        mean = 0.0
        for e in range(E):
            mean += x[r, e]
        mean /= E
        # pass 2: the biased variance around it
        var = 0.0
        for e in range(E):
            d = x[r, e] - mean
            var += d * d
        var /= E
        inv = 1.0 / math.sqrt(var + eps)
        rstd[r] = inv
        # pass 3: normalize, scale and shift
        for e in range(E):
            h = (x[r, e] - mean) * inv
            xhat[r, e] = h
            out[r, e] = h * gamma[e] + beta[e]


def layernorm_forward_v1(x, gamma, beta, eps):
    # x (R, E), gamma (E,), beta (E,) -> out (R, E)
    out = np.empty_like(x)
    xhat = np.empty_like(x)
    rstd = np.empty(x.shape[0], dtype=x.dtype)
    _forward(x, gamma, beta, eps, out, xhat, rstd)
    return out, (xhat, rstd, gamma)


@njit(cache=True, parallel=True)
def _backward(dout, xhat, rstd, gamma, dx, dgamma_part, dbeta_part):
    R, E = dout.shape
    # dx, row by row
    for r in prange(R):
        mg = 0.0    # mean of g = dout * gamma
        mgx = 0.0   # mean of g * xhat
        for e in range(E):
            g = dout[r, e] * gamma[e]
            mg += g
            mgx += g * xhat[r, e]
        mg /= E
        mgx /= E
        for e in range(E):
            dx[r, e] = rstd[r] * (dout[r, e] * gamma[e] - mg - xhat[r, e] * mgx)
    # dgamma, dbeta: each chunk of rows sums into its own partial row
    nchunk = dgamma_part.shape[0]
    for c in prange(nchunk):
        r0 = c * R // nchunk
        r1 = (c + 1) * R // nchunk
        for r in range(r0, r1):
            for e in range(E):
                dgamma_part[c, e] += dout[r, e] * xhat[r, e]
                dbeta_part[c, e] += dout[r, e]


def layernorm_backward_v1(dout, cache):
    # dout (R, E) -> dx (R, E), dgamma (E,), dbeta (E,)
    xhat, rstd, gamma = cache
    R, E = dout.shape
    nchunk = max(1, min(CHUNKS, R))
    dx = np.empty_like(dout)
    dgamma_part = np.zeros((nchunk, E), dtype=dout.dtype)
    dbeta_part = np.zeros((nchunk, E), dtype=dout.dtype)
    _backward(dout, xhat, rstd, gamma, dx, dgamma_part, dbeta_part)
    return dx, dgamma_part.sum(axis=0), dbeta_part.sum(axis=0)


VERSIONS = {
    1: {"layernorm_forward": layernorm_forward_v1, "layernorm_backward": layernorm_backward_v1},
    2: {"layernorm_forward": _layernorm_v2.layernorm_forward, "layernorm_backward": _layernorm_v2.layernorm_backward},
}
DEFAULT = 2


def layernorm_forward(x, gamma, beta, eps):
    return VERSIONS[active("cpu.layernorm", DEFAULT)]["layernorm_forward"](x, gamma, beta, eps)


def layernorm_backward(dout, cache):
    return VERSIONS[active("cpu.layernorm", DEFAULT)]["layernorm_backward"](dout, cache)
