"""Transposed 2-D convolution on the GPU (numba.cuda): conv2d's input gradient, run forward.

x (N, C, H, W) -> y (N, F, OH, OW) with w (C, F, KH, KW) is the input gradient of the
convolution y -> x with the same w (kernels/reference/conv2d_transpose.py says why), so it is
made of kernels/cuda/conv2d.py's own pieces, used the other way round (P = N*H*W rows):

    forward   x_t (P, C)        = x permuted to rows                    conv2d's backward step 1
              dcols (P, F*KK)   = x_t @ w2                               its step 4 (dcols)
              y = col2im(dcols)                                          its step 5 (gather)
              y += b
    backward  cols (P, F*KK)    = im2col(dy)                             conv2d's forward ...
              dx_t (P, C)       = cols @ w2^T;  dx = dx_t permuted back
              dw2 (C, F*KK)     = x_t^T @ cols                           ... and its weight gradient
              db = column sums of dy permuted to rows

One version (its GEMMs are conv2d's default, _gemm.py v3). Not measured (no GPU here).
"""
from numba import cuda

from tinydl.kernels.cuda import conv2d as _conv
from tinydl.kernels.cuda._gemm import gemm
from tinydl.kernels.cuda._launch import TPB, blocks, empty, flat, on_device
from tinydl.kernels.cuda.elementwise import colsum


@cuda.jit
def _add_bias(out, b, F, HW):
    # out (N*F*HW,) flat += b[f]
    k = cuda.grid(1)
    if k < out.size:
        out[k] += b[(k // HW) % F]


def _rows(a):
    # (N, C, H, W) -> (N*H*W, C)
    N, C, H, W = a.shape
    rows = empty((N * H * W, C), a.dtype)
    _conv._nchw_to_rows[blocks(a.size), TPB](flat(a), N, C, H * W, rows)
    return rows


def conv2d_transpose_forward(x, w, b, stride, padding, output_size):
    # x (N, C, H, W), w (C, F, KH, KW), b (F,) or None -> out (N, F, OH, OW)
    x, w, b = on_device(x), on_device(w), on_device(b)
    N, C, H, W = x.shape
    _, F, KH, KW = w.shape
    OH, OW = output_size
    dcols = gemm(_rows(x), w.reshape(C, F * KH * KW))                      # (P, F*KK)
    out = empty((N, F, OH, OW), x.dtype)
    _conv._col2im[blocks(out.size), TPB](dcols, KH, KW, stride[0], stride[1], padding[0], padding[2],
                                         H, W, out)
    if b is not None:
        _add_bias[blocks(out.size), TPB](flat(out), b, F, OH * OW)
    return out, (x, w, b is not None, stride, padding)


def conv2d_transpose_backward(dout, cache):
    # dout (N, F, OH, OW) -> dx (N, C, H, W), dw (C, F, KH, KW), db (F,) or None
    x, w, has_bias, stride, padding = cache
    dout = on_device(dout)
    N, C, H, W = x.shape
    _, F, KH, KW = w.shape
    w2 = w.reshape(C, F * KH * KW)
    cols = _conv._im2col_launch(dout, KH, KW, stride, padding, H, W)       # (P, F*KK)
    dx_t = gemm(cols, w2, tb=True)                                         # (P, C)
    dx = empty((N, C, H, W), x.dtype)
    _conv._rows_to_nchw[blocks(dx.size), TPB](dx_t, N, C, H * W, flat(dx))
    dw = gemm(_rows(x), cols, ta=True).reshape(C, F, KH, KW)               # (C, F*KK)
    db = colsum(_rows(dout)) if has_bias else None
    return dx, dw, db
