"""Image augmentation on the CPU (Numba): per-sample flips and crops. One implementation each.

Both only move memory: prange over the (image, channel) planes, innermost loop along a row.
    flip2d    out[n, c, i, j] = x[n, c, H-1-i or i, W-1-j or j]; backward = the same flip of dout
    crop2d    out[n, c, i, j] = x[n, c, top[n] + i, left[n] + j]; backward writes every element
              of dx once (dout inside the window, 0 outside), so it needs no zero-fill pass
"""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def _flip(x, flip_rows, flip_cols, out):
    N, C, H, W = x.shape
    for t in prange(N * C):
        n, c = t // C, t % C
        for i in range(H):
            src = H - 1 - i if flip_rows[n] else i
            if flip_cols[n]:
                for j in range(W):
                    out[n, c, i, j] = x[n, c, src, W - 1 - j]
            else:
                for j in range(W):
                    out[n, c, i, j] = x[n, c, src, j]


@njit(parallel=True, cache=True)
def _crop(x, top, left, out):
    N, C, h, w = out.shape
    for t in prange(N * C):
        n, c = t // C, t % C
        for i in range(h):
            for j in range(w):
                out[n, c, i, j] = x[n, c, top[n] + i, left[n] + j]


@njit(parallel=True, cache=True)
def _uncrop(dout, top, left, dx):
    N, C, H, W = dx.shape
    h, w = dout.shape[2], dout.shape[3]
    for t in prange(N * C):
        n, c = t // C, t % C
        for i in range(H):
            r = i - top[n]
            for j in range(W):
                s = j - left[n]
                dx[n, c, i, j] = dout[n, c, r, s] if 0 <= r < h and 0 <= s < w else 0


def flip2d_forward(x, flip_rows, flip_cols):
    # x (N, C, H, W); flip_rows, flip_cols (N,) bool -> out (N, C, H, W)
    out = np.empty_like(x)
    _flip(x, flip_rows, flip_cols, out)
    return out, (flip_rows, flip_cols)


def flip2d_backward(dout, cache):
    flip_rows, flip_cols = cache
    return flip2d_forward(dout, flip_rows, flip_cols)[0]


def crop2d_forward(x, top, left, height, width):
    # x (N, C, H, W); top, left (N,) int64 -> out (N, C, height, width)
    out = np.empty((x.shape[0], x.shape[1], height, width), dtype=x.dtype)
    _crop(x, top, left, out)
    return out, (x.shape, top, left)


def crop2d_backward(dout, cache):
    x_shape, top, left = cache
    dx = np.empty(x_shape, dtype=dout.dtype)
    _uncrop(dout, top, left, dx)
    return dx
