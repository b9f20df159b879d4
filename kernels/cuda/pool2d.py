"""2-D max and average pooling on the GPU (numba.cuda). One implementation each, so no VERSIONS.

Pooling does a handful of compares or adds per element it reads: it is memory-bound, and the
kernel that reads each element once and writes each result once is already the whole lesson.

    forward   one thread per output (n, c, i, j): walk its PH x PW window
              max: the value and the window position (p * PW + q) of the FIRST maximum in
                   row-major order (padding reads as -inf), kept for the backward
              avg: the sum over the window's elements inside x, divided by their count
                   (Keras/TF "same"; PyTorch's count_include_pad=False)
    backward  one thread per input element (n, c, h, w): GATHER from the windows that cover it
              (at most ceil(PH/sh) x ceil(PW/sw) of them) instead of scattering from each window,
              so overlapping windows never race and no atomics are needed
    global average pooling: one thread per (n, c) plane; its backward one thread per element
"""
import math

import numpy as np
from numba import cuda, float64

from tinydl.kernels.cuda._launch import TPB, blocks, empty, flat, on_device


def _out_size(shape, pool, stride, padding):
    H, W = shape[2], shape[3]
    pt, pb, pl, pr = padding
    return (H + pt + pb - pool[0]) // stride[0] + 1, (W + pl + pr - pool[1]) // stride[1] + 1


@cuda.jit
def _max_fwd(x, PH, PW, sh, sw, pt, pl, out, arg):
    k = cuda.grid(1)
    if k < out.size:
        N, C, OH, OW = out.shape
        H, W = x.shape[2], x.shape[3]
        nc, ij = k // (OH * OW), k % (OH * OW)
        n, c = nc // C, nc % C
        i, j = ij // OW, ij % OW
        best = -math.inf
        where = 0
        for p in range(PH):
            h = i * sh - pt + p
            for q in range(PW):
                w = j * sw - pl + q
                if 0 <= h < H and 0 <= w < W:
                    v = x[n, c, h, w]
                    # strict: the first maximum wins ties; a NaN wins once and stays (as argmax)
                    if v > best or (v != v and best == best):
                        best = v
                        where = p * PW + q
        out[n, c, i, j] = best
        arg[n, c, i, j] = where


@cuda.jit
def _max_bwd(dout, arg, PH, PW, sh, sw, pt, pl, dx):
    k = cuda.grid(1)
    if k < dx.size:
        N, C, H, W = dx.shape
        OH, OW = dout.shape[2], dout.shape[3]
        nc, hw = k // (H * W), k % (H * W)
        n, c = nc // C, nc % C
        h, w = hw // W, hw % W
        acc = 0.0
        # windows i with i*sh - pt <= h < i*sh - pt + PH, likewise j
        i_lo = max(0, (h + pt - PH + sh) // sh)
        i_hi = min(OH - 1, (h + pt) // sh)
        j_lo = max(0, (w + pl - PW + sw) // sw)
        j_hi = min(OW - 1, (w + pl) // sw)
        for i in range(i_lo, i_hi + 1):
            for j in range(j_lo, j_hi + 1):
                if arg[n, c, i, j] == (h - i * sh + pt) * PW + (w - j * sw + pl):
                    acc += float64(dout[n, c, i, j])
        dx[n, c, h, w] = acc


@cuda.jit(device=True)
def _count(i, j, PH, PW, sh, sw, pt, pl, H, W):
    # how many elements of window (i, j) lie inside x
    h0, w0 = i * sh - pt, j * sw - pl
    rows = min(h0 + PH, H) - max(h0, 0)
    cols = min(w0 + PW, W) - max(w0, 0)
    return max(rows, 0) * max(cols, 0)


@cuda.jit
def _avg_fwd(x, PH, PW, sh, sw, pt, pl, out):
    k = cuda.grid(1)
    if k < out.size:
        N, C, OH, OW = out.shape
        H, W = x.shape[2], x.shape[3]
        nc, ij = k // (OH * OW), k % (OH * OW)
        n, c = nc // C, nc % C
        i, j = ij // OW, ij % OW
        acc = 0.0
        for p in range(PH):
            h = i * sh - pt + p
            for q in range(PW):
                w = j * sw - pl + q
                if 0 <= h < H and 0 <= w < W:
                    acc += float64(x[n, c, h, w])
        out[n, c, i, j] = acc / _count(i, j, PH, PW, sh, sw, pt, pl, H, W)


@cuda.jit
def _avg_bwd(dout, PH, PW, sh, sw, pt, pl, dx):
    k = cuda.grid(1)
    if k < dx.size:
        N, C, H, W = dx.shape
        OH, OW = dout.shape[2], dout.shape[3]
        nc, hw = k // (H * W), k % (H * W)
        n, c = nc // C, nc % C
        h, w = hw // W, hw % W
        acc = 0.0
        i_lo = max(0, (h + pt - PH + sh) // sh)
        i_hi = min(OH - 1, (h + pt) // sh)
        j_lo = max(0, (w + pl - PW + sw) // sw)
        j_hi = min(OW - 1, (w + pl) // sw)
        for i in range(i_lo, i_hi + 1):
            for j in range(j_lo, j_hi + 1):
                acc += float64(dout[n, c, i, j]) / _count(i, j, PH, PW, sh, sw, pt, pl, H, W)
        dx[n, c, h, w] = acc


def maxpool2d_forward(x, pool_size, stride, padding):
    # x (N, C, H, W); pool_size (PH, PW); stride (sh, sw); padding (pt, pb, pl, pr)
    x = on_device(x)
    OH, OW = _out_size(x.shape, pool_size, stride, padding)
    out = empty(x.shape[:2] + (OH, OW), x.dtype)
    arg = empty(x.shape[:2] + (OH, OW), np.int32)            # window position of each max
    if out.size:
        _max_fwd[blocks(out.size), TPB](x, pool_size[0], pool_size[1], stride[0], stride[1],
                                        padding[0], padding[2], out, arg)
    return out, (x.shape, arg, pool_size, stride, padding)


def maxpool2d_backward(dout, cache):
    # dout (N, C, OH, OW) -> dx (N, C, H, W): each window's gradient to its first maximum
    x_shape, arg, pool, stride, padding = cache
    dout = on_device(dout)
    dx = empty(x_shape, dout.dtype)
    if dx.size:
        _max_bwd[blocks(dx.size), TPB](dout, arg, pool[0], pool[1], stride[0], stride[1],
                                       padding[0], padding[2], dx)
    return dx


def avgpool2d_forward(x, pool_size, stride, padding):
    x = on_device(x)
    OH, OW = _out_size(x.shape, pool_size, stride, padding)
    out = empty(x.shape[:2] + (OH, OW), x.dtype)
    if out.size:
        _avg_fwd[blocks(out.size), TPB](x, pool_size[0], pool_size[1], stride[0], stride[1],
                                        padding[0], padding[2], out)
    return out, (x.shape, pool_size, stride, padding)


def avgpool2d_backward(dout, cache):
    # each window's gradient spread evenly over the elements it counted
    x_shape, pool, stride, padding = cache
    dout = on_device(dout)
    dx = empty(x_shape, dout.dtype)
    if dx.size:
        _avg_bwd[blocks(dx.size), TPB](dout, pool[0], pool[1], stride[0], stride[1],
                                       padding[0], padding[2], dx)
    return dx


@cuda.jit
def _gap_fwd(x, out):
    # x (N*C, H*W) -> out (N*C,): one thread per plane
    r = cuda.grid(1)
    if r < x.shape[0]:
        acc = 0.0
        for s in range(x.shape[1]):
            acc += float64(x[r, s])
        out[r] = acc / x.shape[1]


@cuda.jit
def _gap_bwd(dout, hw, dx):
    k = cuda.grid(1)
    if k < dx.size:
        dx[k] = dout[k // hw] / hw


def global_avgpool2d_forward(x):
    # x (N, C, H, W) -> (N, C)
    x = on_device(x)
    N, C, H, W = x.shape
    out = empty((N, C), x.dtype)
    if out.size:
        _gap_fwd[blocks(N * C), TPB](x.reshape(N * C, H * W), flat(out))
    return out, x.shape


def global_avgpool2d_backward(dout, cache):
    # dout (N, C) -> dx (N, C, H, W) = dout / (H*W) everywhere
    N, C, H, W = cache
    dout = on_device(dout)
    dx = empty((N, C, H, W), dout.dtype)
    if dx.size:
        _gap_bwd[blocks(dx.size), TPB](flat(dout), H * W, flat(dx))
    return dx
