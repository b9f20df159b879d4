"""Depthwise 2-D convolution on the CPU (Numba): the lesson plan.

    out[n, o, i, j] = b[o] + sum_{p, q} x_pad[n, o // M, i*sh + p, j*sw + q] * w[o, 0, p, q]

Every output channel reads one input channel, so there is no sum over channels to hand to a
GEMM: a depthwise layer does C*M*KH*KW multiply-adds per output pixel instead of a full
convolution's C*F*KH*KW, and is memory-bound rather than compute-bound. The versions are about
walking memory well. Numbers: x (16, 32, 16, 16), 3x3 "same", float32, one thread
(NUMBA_NUM_THREADS=1, best of 20) on the shared 2-core machine at load 10; docs/kernels.md
("depthwise-separable convolution") has the comparison with a full convolution.

v1  the formula, one thread: for every output (n, o, i, j), loop over the taps (p, q) with a
    bounds test per tap (the padding is never materialized). The backward is the same nest,
    adding into dx, dw and db at once. Naive on purpose. Forward 2.0 ms, backward 3.1 ms.

v2  padded copy + row-streaming loops + prange. The input is zero-padded once, so the inner loop
    has no branch; for each output row and each tap, the innermost loop runs along the row
    (contiguous for stride 1, it vectorizes), and each weight is loaded once per row. prange over
    the (image, output channel) planes. The backward is two parallel nests that never race: dw
    (and db) with one task per output channel, summing over the batch; dx with one task per
    (image, input channel) plane, adding the M kernels of that channel; dw reads each output row
    once and dots it with the KH*KW shifted input rows while they are in cache. Forward 1.06 ms
    (1.9x v1), backward 2.5 ms (1.2x v1): the backward's dx nest still writes through memory.

DEFAULT = 2.
"""
import numpy as np
from numba import njit, prange

from tinydl.kernels._versions import active
from tinydl.kernels.cpu._conv_common import out_size as _out_size


def _bias_or_zeros(b, w):
    return b if b is not None else np.zeros(w.shape[0], dtype=w.dtype)


# ---- v1: the formula, one thread --------------------------------------------------------------
@njit(cache=True)
def _fwd_v1(x, w, b, sh, sw, pt, pl, out):
    N, C, H, W = x.shape
    _, CM, OH, OW = out.shape
    M = CM // C
    KH, KW = w.shape[2], w.shape[3]
    for n in range(N):
        for o in range(CM):
            c = o // M
            for i in range(OH):
                for j in range(OW):
                    acc = np.float64(b[o])
                    for p in range(KH):
                        h = i * sh - pt + p
                        for q in range(KW):
                            v = j * sw - pl + q
                            if 0 <= h < H and 0 <= v < W:
                                acc += x[n, c, h, v] * w[o, 0, p, q]
                    out[n, o, i, j] = acc


@njit(cache=True)
def _bwd_v1(dout, x, w, sh, sw, pt, pl, dx, dw, db):
    # dx, dw, db hold zeros; every output's gradient is added to all three
    N, C, H, W = x.shape
    _, CM, OH, OW = dout.shape
    M = CM // C
    KH, KW = w.shape[2], w.shape[3]
    for n in range(N):
        for o in range(CM):
            c = o // M
            for i in range(OH):
                for j in range(OW):
                    g = dout[n, o, i, j]
                    db[o] += g
                    for p in range(KH):
                        h = i * sh - pt + p
                        for q in range(KW):
                            v = j * sw - pl + q
                            if 0 <= h < H and 0 <= v < W:
                                dw[o, 0, p, q] += g * x[n, c, h, v]
                                dx[n, c, h, v] += g * w[o, 0, p, q]


def depthwise_conv2d_forward_v1(x, w, b, stride, padding):
    OH, OW = _out_size(x.shape, w.shape, stride, padding)
    out = np.empty((x.shape[0], w.shape[0], OH, OW), dtype=x.dtype)
    _fwd_v1(x, w, _bias_or_zeros(b, w), stride[0], stride[1], padding[0], padding[2], out)
    return out, (x, w, b is not None, stride, padding)


def depthwise_conv2d_backward_v1(dout, cache):
    x, w, has_bias, stride, padding = cache
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    db = np.zeros(w.shape[0], dtype=w.dtype)
    _bwd_v1(dout, x, w, stride[0], stride[1], padding[0], padding[2], dx, dw, db)
    return dx, dw, (db if has_bias else None)


# ---- v2: padded copy, rows streamed, prange over planes -----------------------------------------
@njit(parallel=True, cache=True)
def _pad(x, pt, pb, pl, pr):
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + pt + pb, W + pl + pr), dtype=x.dtype)
    for t in prange(N * C):
        n, c = t // C, t % C
        for h in range(H):
            for v in range(W):
                xp[n, c, h + pt, v + pl] = x[n, c, h, v]
    return xp


@njit(parallel=True, cache=True)
def _fwd_v2(xp, w, b, sh, sw, out):
    N, C = xp.shape[0], xp.shape[1]
    _, CM, OH, OW = out.shape
    M = CM // C
    KH, KW = w.shape[2], w.shape[3]
    for t in prange(N * CM):
        n, o = t // CM, t % CM
        c = o // M
        for i in range(OH):
            for j in range(OW):
                out[n, o, i, j] = b[o]
            for p in range(KH):
                row = xp[n, c, i * sh + p]
                for q in range(KW):
                    wv = w[o, 0, p, q]
                    for j in range(OW):                    # contiguous for stride 1
                        out[n, o, i, j] += wv * row[j * sw + q]


@njit(parallel=True, cache=True)
def _dw_v2(dout, xp, sh, sw, KH, KW, dw, db):
    N, CM, OH, OW = dout.shape
    M = CM // xp.shape[1]
    for o in prange(CM):                                   # one task per output channel
        c = o // M
        acc = np.zeros((KH, KW))                           # float64 sums of this channel's taps
        s = 0.0
        for n in range(N):
            for i in range(OH):
                d = dout[n, o, i]                          # one output row, reused by every tap
                for j in range(OW):
                    s += d[j]
                for p in range(KH):
                    row = xp[n, c, i * sh + p]
                    for q in range(KW):
                        t = 0.0
                        for j in range(OW):
                            t += d[j] * row[j * sw + q]
                        acc[p, q] += t
        db[o] = s
        for p in range(KH):
            for q in range(KW):
                dw[o, 0, p, q] = acc[p, q]


@njit(parallel=True, cache=True)
def _dx_v2(dout, w, sh, sw, dxp):
    N, C = dxp.shape[0], dxp.shape[1]
    _, CM, OH, OW = dout.shape
    M = CM // C
    KH, KW = w.shape[2], w.shape[3]
    for t in prange(N * C):                                # one task per (image, input channel)
        n, c = t // C, t % C
        for m in range(M):
            o = c * M + m
            for i in range(OH):
                for p in range(KH):
                    row = dxp[n, c, i * sh + p]
                    for q in range(KW):
                        wv = w[o, 0, p, q]
                        for j in range(OW):
                            row[j * sw + q] += wv * dout[n, o, i, j]


def depthwise_conv2d_forward_v2(x, w, b, stride, padding):
    OH, OW = _out_size(x.shape, w.shape, stride, padding)
    out = np.empty((x.shape[0], w.shape[0], OH, OW), dtype=x.dtype)
    _fwd_v2(_pad(x, *padding), w, _bias_or_zeros(b, w), stride[0], stride[1], out)
    return out, (x, w, b is not None, stride, padding)


def depthwise_conv2d_backward_v2(dout, cache):
    x, w, has_bias, stride, padding = cache
    N, C, H, W = x.shape
    pt, pb, pl, pr = padding
    dw = np.empty_like(w)
    db = np.empty(w.shape[0], dtype=w.dtype)
    _dw_v2(dout, _pad(x, *padding), stride[0], stride[1], w.shape[2], w.shape[3], dw, db)
    dxp = np.zeros((N, C, H + pt + pb, W + pl + pr), dtype=x.dtype)
    _dx_v2(dout, w, stride[0], stride[1], dxp)
    dx = np.ascontiguousarray(dxp[:, :, pt:pt + H, pl:pl + W])
    return dx, dw, (db if has_bias else None)


VERSIONS = {
    1: {"depthwise_conv2d_forward": depthwise_conv2d_forward_v1,
        "depthwise_conv2d_backward": depthwise_conv2d_backward_v1},
    2: {"depthwise_conv2d_forward": depthwise_conv2d_forward_v2,
        "depthwise_conv2d_backward": depthwise_conv2d_backward_v2},
}
DEFAULT = 2


def depthwise_conv2d_forward(x, w, b, stride, padding):
    return VERSIONS[active("cpu.depthwise_conv2d", DEFAULT)]["depthwise_conv2d_forward"](x, w, b, stride, padding)


def depthwise_conv2d_backward(dout, cache):
    return VERSIONS[active("cpu.depthwise_conv2d", DEFAULT)]["depthwise_conv2d_backward"](dout, cache)
