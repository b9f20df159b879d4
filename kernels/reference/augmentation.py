"""Image augmentation, plain NumPy: the ground truth. Per-sample flips and crops of NCHW batches.

    flip2d    out[n] = x[n] with its rows reversed if flip_rows[n], its columns if flip_cols[n];
              a flip is its own inverse, so the backward flips dout the same way
    crop2d    out[n] = x[n, :, top[n]:top[n] + h, left[n]:left[n] + w]; the backward puts dout
              back in that window of a zero gradient
"""
import numpy as np


def flip2d_forward(x, flip_rows, flip_cols):
    # x (N, C, H, W); flip_rows, flip_cols (N,) bool -> out (N, C, H, W)
    out = np.where(flip_rows[:, None, None, None], x[:, :, ::-1, :], x)
    out = np.where(flip_cols[:, None, None, None], out[:, :, :, ::-1], out)
    return np.ascontiguousarray(out), (flip_rows, flip_cols)


def flip2d_backward(dout, cache):
    flip_rows, flip_cols = cache
    return flip2d_forward(dout, flip_rows, flip_cols)[0]


def crop2d_forward(x, top, left, height, width):
    # x (N, C, H, W); top, left (N,) int64 -> out (N, C, height, width)
    out = np.stack([x[n, :, t:t + height, s:s + width] for n, (t, s) in enumerate(zip(top, left, strict=True))])
    return np.ascontiguousarray(out), (x.shape, top, left)


def crop2d_backward(dout, cache):
    # dout (N, C, height, width) -> dx (N, C, H, W): zeros outside each sample's window
    x_shape, top, left = cache
    height, width = dout.shape[2], dout.shape[3]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for n, (t, s) in enumerate(zip(top, left, strict=True)):
        dx[n, :, t:t + height, s:s + width] = dout[n]
    return dx
