"""Nearest-neighbour 2-D upsampling on the CPU (Numba). One implementation, so no VERSIONS.

Upsampling only moves memory (the backward adds sh*sw numbers per result), so the one lesson is
the loop order: prange over the (image, channel) planes, the innermost loop along a row, so reads
and writes both stream through contiguous memory.

    forward   for each plane, output row i: out[i, j] = x[i // sh, j // sw]
    backward  for each plane, dx[h, w] = sum over p < sh, q < sw of dout[h*sh + p, w*sw + q]
              (each dx element is written once by the task owning its plane: no races)
"""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def _up_fwd(x, sh, sw, out):
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    for t in prange(N * C):
        n, c = t // C, t % C
        for i in range(OH):
            h = i // sh
            for j in range(OW):
                out[n, c, i, j] = x[n, c, h, j // sw]


@njit(parallel=True, cache=True)
def _up_bwd(dout, sh, sw, dx):
    N, C, H, W = dx.shape
    for t in prange(N * C):
        n, c = t // C, t % C
        for h in range(H):
            for w in range(W):
                acc = 0.0
                for p in range(sh):
                    for q in range(sw):
                        acc += dout[n, c, h * sh + p, w * sw + q]
                dx[n, c, h, w] = acc


def upsample2d_forward(x, size):
    # x (N, C, H, W) -> out (N, C, H*sh, W*sw)
    sh, sw = size
    N, C, H, W = x.shape
    out = np.empty((N, C, H * sh, W * sw), dtype=x.dtype)
    _up_fwd(x, sh, sw, out)
    return out, size


def upsample2d_backward(dout, cache):
    # dout (N, C, H*sh, W*sw) -> dx (N, C, H, W)
    sh, sw = cache
    N, C, OH, OW = dout.shape
    dx = np.empty((N, C, OH // sh, OW // sw), dtype=dout.dtype)
    _up_bwd(dout, sh, sw, dx)
    return dx
