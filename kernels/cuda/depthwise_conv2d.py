"""Depthwise 2-D convolution on the GPU (numba.cuda). One implementation, so no VERSIONS.

    out[n, o, i, j] = b[o] + sum_{p, q} x_pad[n, o // M, i*sh + p, j*sw + q] * w[o, 0, p, q]

    forward   one thread per output element: its KH x KW taps, padding by bounds test
    backward  dx: one thread per input element, GATHERING from the outputs of its channel's M
                  kernels whose windows cover it (as conv2d's col2im does): no atomics
              dw: one thread per weight (o, p, q), summing over (n, i, j); db one per channel
Not measured (no GPU in the session that wrote it).
"""
from numba import cuda, float64

from tinydl.kernels.cuda._launch import TPB, blocks, empty, on_device


@cuda.jit
def _fwd(x, w, b, has_bias, sh, sw, pt, pl, out):
    k = cuda.grid(1)
    if k < out.size:
        N, C, H, W = x.shape
        _, CM, OH, OW = out.shape
        KH, KW = w.shape[2], w.shape[3]
        n, r = k // (CM * OH * OW), k % (CM * OH * OW)
        o, ij = r // (OH * OW), r % (OH * OW)
        i, j = ij // OW, ij % OW
        c = o // (CM // C)
        acc = float64(b[o]) if has_bias else 0.0
        for p in range(KH):
            h = i * sh - pt + p
            for q in range(KW):
                v = j * sw - pl + q
                if 0 <= h < H and 0 <= v < W:
                    acc += float64(x[n, c, h, v]) * w[o, 0, p, q]
        out[n, o, i, j] = acc


@cuda.jit
def _dx(dout, w, sh, sw, pt, pl, dx):
    k = cuda.grid(1)
    if k < dx.size:
        N, C, H, W = dx.shape
        _, CM, OH, OW = dout.shape
        KH, KW = w.shape[2], w.shape[3]
        M = CM // C
        n, r = k // (C * H * W), k % (C * H * W)
        c, hw = r // (H * W), r % (H * W)
        h, v = hw // W, hw % W
        acc = 0.0
        for p in range(KH):
            hi = h + pt - p                         # = i * sh for the output row i that reads h
            if hi >= 0 and hi % sh == 0 and hi // sh < OH:
                for q in range(KW):
                    wj = v + pl - q
                    if wj >= 0 and wj % sw == 0 and wj // sw < OW:
                        for m in range(M):
                            o = c * M + m
                            acc += float64(dout[n, o, hi // sh, wj // sw]) * w[o, 0, p, q]
        dx[n, c, h, v] = acc


@cuda.jit
def _dw(dout, x, sh, sw, pt, pl, dw, db, has_bias):
    k = cuda.grid(1)
    if k < dw.size:
        N, C, H, W = x.shape
        _, CM, OH, OW = dout.shape
        KH, KW = dw.shape[2], dw.shape[3]
        o, pq = k // (KH * KW), k % (KH * KW)
        p, q = pq // KW, pq % KW
        c = o // (CM // C)
        acc = 0.0
        s = 0.0
        for n in range(N):
            for i in range(OH):
                h = i * sh - pt + p
                for j in range(OW):
                    v = j * sw - pl + q
                    s += float64(dout[n, o, i, j])
                    if 0 <= h < H and 0 <= v < W:
                        acc += float64(dout[n, o, i, j]) * x[n, c, h, v]
        dw[o, 0, p, q] = acc
        if has_bias and pq == 0:
            db[o] = s


def depthwise_conv2d_forward(x, w, b, stride, padding):
    # x (N, C, H, W), w (C*M, 1, KH, KW), b (C*M,) or None -> out (N, C*M, OH, OW)
    x, w = on_device(x), on_device(w)
    has_bias = b is not None
    b = on_device(b) if has_bias else w.reshape(w.size)          # a placeholder, never read
    N, C, H, W = x.shape
    CM, _, KH, KW = w.shape
    pt, pb, pl, pr = padding
    OH = (H + pt + pb - KH) // stride[0] + 1
    OW = (W + pl + pr - KW) // stride[1] + 1
    out = empty((N, CM, OH, OW), x.dtype)
    _fwd[blocks(out.size), TPB](x, w, b, has_bias, stride[0], stride[1], pt, pl, out)
    return out, (x, w, has_bias, stride, padding)


def depthwise_conv2d_backward(dout, cache):
    # dout (N, C*M, OH, OW) -> dx (N, C, H, W), dw (C*M, 1, KH, KW), db (C*M,) or None
    x, w, has_bias, stride, padding = cache
    dout = on_device(dout)
    dx = empty(x.shape, x.dtype)
    _dx[blocks(dx.size), TPB](dout, w, stride[0], stride[1], padding[0], padding[2], dx)
    dw = empty(w.shape, w.dtype)
    db = empty((w.shape[0],), w.dtype)
    _dw[blocks(dw.size), TPB](dout, x, stride[0], stride[1], padding[0], padding[2], dw, db, has_bias)
    return dx, dw, (db if has_bias else None)
