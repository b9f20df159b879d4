"""Transposed 2-D convolution on the CPU (Numba): conv2d's input gradient, run forward.

The transposed convolution x (N, C, H, W) -> y (N, F, OH, OW) with w (C, F, KH, KW) is the input
gradient of the convolution y -> x with the same w (kernels/reference/conv2d_transpose.py says
why). So it is built from the same pieces as conv2d v3's backward (kernels/cpu/conv2d.py),
kernels/cpu/_im2col.py and kernels/cpu/_blas.py, used the other way round:

    forward   per image: dcols (F*KH*KW, H*W) = w2^T @ x[n]      w2 = w viewed as (C, F*KH*KW)
                         y[n] = col2im(dcols)                      conv2d's input gradient
    backward  per image: cols (F*KH*KW, H*W) = im2col(dy[n])       conv2d's forward ...
                         dx[n] = w2 @ cols
                         dw2 += x[n] @ cols^T                      ... and its weight gradient
              db = dy summed over (n, i, j)

One version: the lesson here is the identity, not speed (its GEMMs are conv2d v3's, per image).
"""
import numpy as np
from numba import njit, prange

from tinydl.kernels.cpu._blas import gemm, gemm_into
from tinydl.kernels.cpu._conv_common import sum_db as _sum_db
from tinydl.kernels.cpu._im2col import col2im, im2col


@njit(parallel=True, cache=True)
def _add_bias(out, b):
    # out (N, F, P) += b[f]
    N, F, P = out.shape
    for t in prange(N * F):
        f = t % F
        for k in range(P):
            out[t // F, f, k] += b[f]


def conv2d_transpose_forward(x, w, b, stride, padding, output_size):
    # x (N, C, H, W), w (C, F, KH, KW), b (F,) or None -> out (N, F, OH, OW)
    N, C, H, W = x.shape
    _, F, KH, KW = w.shape
    OH, OW = output_size
    w2t = w.reshape(C, F * KH * KW).T                      # (F*KK, C), a view
    x3 = x.reshape(N, C, H * W)
    dcols = np.empty((F * KH * KW, H * W), dtype=x.dtype)
    out = np.zeros((N, F, OH, OW), dtype=x.dtype)          # col2im adds into zeros
    for n in range(N):
        gemm_into(w2t, x3[n], dcols)                       # (F*KK, C) @ (C, H*W)
        col2im(dcols, KH, KW, stride[0], stride[1], padding[0], padding[2], H, W, out[n:n + 1])
    if b is not None:
        _add_bias(out.reshape(N, F, OH * OW), b)
    return out, (x, w, b is not None, stride, padding)


def conv2d_transpose_backward(dout, cache):
    # dout (N, F, OH, OW) -> dx (N, C, H, W), dw (C, F, KH, KW), db (F,) or None
    x, w, has_bias, stride, padding = cache
    N, C, H, W = x.shape
    _, F, KH, KW = w.shape
    w2 = w.reshape(C, F * KH * KW)
    x3 = x.reshape(N, C, H * W)
    cols = np.empty((F * KH * KW, H * W), dtype=x.dtype)
    dx = np.empty((N, C, H * W), dtype=x.dtype)
    dw = np.zeros((C, F * KH * KW), dtype=x.dtype)
    for n in range(N):
        im2col(dout[n:n + 1], KH, KW, stride[0], stride[1], padding[0], padding[2], H, W, cols)
        gemm_into(w2, cols, dx[n])                         # conv2d forward: (C, F*KK) @ (F*KK, HW)
        dw += gemm(x3[n], cols.T)                          # weight gradient: (C, HW) @ (HW, F*KK)
    db = _sum_db(dout.reshape(N, F, -1)) if has_bias else None
    return dx.reshape(N, C, H, W), dw.reshape(w.shape), db
