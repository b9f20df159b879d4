"""Image augmentation on the GPU (numba.cuda): per-sample flips and crops. One implementation each.

One thread per output element for the forwards (neighbouring threads write neighbouring
pixels); the crop's backward is one thread per element of dx, writing dout inside the sample's
window and 0 outside, so every element is written once and no zero-fill is needed.
"""
from numba import cuda

from tinydl.kernels.cuda._launch import TPB, blocks, empty, on_device


@cuda.jit
def _flip(x, flip_rows, flip_cols, out):
    k = cuda.grid(1)
    if k < out.size:
        N, C, H, W = x.shape
        n, r = k // (C * H * W), k % (C * H * W)
        c, ij = r // (H * W), r % (H * W)
        i, j = ij // W, ij % W
        src_i = H - 1 - i if flip_rows[n] else i
        src_j = W - 1 - j if flip_cols[n] else j
        out[n, c, i, j] = x[n, c, src_i, src_j]


@cuda.jit
def _crop(x, top, left, out):
    k = cuda.grid(1)
    if k < out.size:
        N, C, h, w = out.shape
        n, r = k // (C * h * w), k % (C * h * w)
        c, ij = r // (h * w), r % (h * w)
        i, j = ij // w, ij % w
        out[n, c, i, j] = x[n, c, top[n] + i, left[n] + j]


@cuda.jit
def _uncrop(dout, top, left, dx):
    k = cuda.grid(1)
    if k < dx.size:
        N, C, H, W = dx.shape
        h, w = dout.shape[2], dout.shape[3]
        n, r = k // (C * H * W), k % (C * H * W)
        c, ij = r // (H * W), r % (H * W)
        i, j = ij // W - top[n], ij % W - left[n]
        dx[n, c, ij // W, ij % W] = dout[n, c, i, j] if 0 <= i < h and 0 <= j < w else 0


def flip2d_forward(x, flip_rows, flip_cols):
    # x (N, C, H, W); flip_rows, flip_cols (N,) bool -> out (N, C, H, W)
    x, flip_rows, flip_cols = on_device(x), on_device(flip_rows), on_device(flip_cols)
    out = empty(x.shape, x.dtype)
    if out.size:
        _flip[blocks(out.size), TPB](x, flip_rows, flip_cols, out)
    return out, (flip_rows, flip_cols)


def flip2d_backward(dout, cache):
    flip_rows, flip_cols = cache
    return flip2d_forward(dout, flip_rows, flip_cols)[0]


def crop2d_forward(x, top, left, height, width):
    # x (N, C, H, W); top, left (N,) int64 -> out (N, C, height, width)
    x, top, left = on_device(x), on_device(top), on_device(left)
    out = empty((x.shape[0], x.shape[1], height, width), x.dtype)
    if out.size:
        _crop[blocks(out.size), TPB](x, top, left, out)
    return out, (tuple(x.shape), top, left)


def crop2d_backward(dout, cache):
    x_shape, top, left = cache
    dout = on_device(dout)
    dx = empty(x_shape, dout.dtype)
    if dx.size:
        _uncrop[blocks(dx.size), TPB](dout, top, left, dx)
    return dx
