"""2-D max and average pooling, plain NumPy: the ground truth.

    max: out[n, c, i, j] = max over the window at (i*sh - pt, j*sw - pl) of x (padding is -inf)
    avg: out[n, c, i, j] = mean over the window's elements that lie inside x (Keras/TF "same":
         padded positions are not counted; PyTorch's count_include_pad=False)

Windows may overlap (stride < pool size). Max-pool ties send the gradient to the first maximum
of the window in row-major order, as PyTorch does.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _windows(x, pool, stride, padding, fill):
    # x (N, C, H, W) -> (N, C, OH, OW, PH, PW) view of the padded input
    pt, pb, pl, pr = padding
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=fill)
    sh, sw = stride
    return xp, sliding_window_view(xp, pool, axis=(2, 3))[:, :, ::sh, ::sw]


def _scatter(dwin, x_shape, pool, stride, padding, dtype):
    # dwin (N, C, OH, OW, PH, PW): each window's gradient, added back where the window read
    N, C, H, W = x_shape
    pt, pb, pl, pr = padding
    sh, sw = stride
    OH, OW = dwin.shape[2], dwin.shape[3]
    dxp = np.zeros((N, C, H + pt + pb, W + pl + pr), dtype=dtype)
    for p in range(pool[0]):
        for q in range(pool[1]):
            dxp[:, :, p:p + sh * (OH - 1) + 1:sh, q:q + sw * (OW - 1) + 1:sw] += dwin[..., p, q]
    return np.ascontiguousarray(dxp[:, :, pt:pt + H, pl:pl + W])


def maxpool2d_forward(x, pool_size, stride, padding):
    # x (N, C, H, W); pool_size (PH, PW); stride (sh, sw); padding (pt, pb, pl, pr)
    _, win = _windows(x, pool_size, stride, padding, -np.inf)
    flat = win.reshape(win.shape[:4] + (-1,))                   # (N, C, OH, OW, PH*PW)
    arg = flat.argmax(axis=-1)                                  # first maximum, row-major
    out = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    return np.ascontiguousarray(out), (x.shape, x.dtype, arg, pool_size, stride, padding)


def maxpool2d_backward(dout, cache):
    # dout (N, C, OH, OW) -> dx (N, C, H, W): each window's gradient goes to its argmax
    x_shape, dtype, arg, pool, stride, padding = cache
    PH, PW = pool
    onehot = arg[..., None] == np.arange(PH * PW)               # (N, C, OH, OW, PH*PW)
    dwin = (onehot * dout[..., None]).reshape(dout.shape + (PH, PW))
    return _scatter(dwin, x_shape, pool, stride, padding, dtype)


def avgpool2d_forward(x, pool_size, stride, padding):
    # x (N, C, H, W); the divisor counts only the window's elements inside x
    _, win = _windows(x, pool_size, stride, padding, 0.0)
    _, ones = _windows(np.ones((1, 1) + x.shape[2:], dtype=x.dtype), pool_size, stride, padding, 0.0)
    count = ones.sum(axis=(-2, -1))                             # (1, 1, OH, OW)
    out = win.sum(axis=(-2, -1)) / count
    return np.ascontiguousarray(out), (x.shape, x.dtype, count, pool_size, stride, padding)


def avgpool2d_backward(dout, cache):
    # dout (N, C, OH, OW) -> dx: each window's gradient spread evenly over its counted elements
    x_shape, dtype, count, pool, stride, padding = cache
    share = dout / count                                        # (N, C, OH, OW)
    dwin = np.broadcast_to(share[..., None, None], dout.shape + tuple(pool))
    # elements in the padding receive gradient here too, but _scatter crops them away
    return _scatter(dwin, x_shape, pool, stride, padding, dtype)


def global_avgpool2d_forward(x):
    # x (N, C, H, W) -> (N, C): the mean over each channel's plane
    return x.mean(axis=(2, 3)), x.shape


def global_avgpool2d_backward(dout, cache):
    # dout (N, C) -> dx (N, C, H, W) = dout / (H*W) at every position
    N, C, H, W = cache
    return np.ascontiguousarray(np.broadcast_to((dout / (H * W))[:, :, None, None], (N, C, H, W)))
