"""Max, average and global average pooling: validate once, then dispatch to the active device."""
import numpy as np

from tinydl import device as _device
from tinydl.ops import _checks
from tinydl._validate import padding4


def _pool_args(x, pool_size, stride, padding, op):
    x = _checks.as_float(x, f"{op} input x")
    _checks.ndim(x, f"{op} input x (N, C, H, W)", 4)
    pool = _checks.pair(pool_size, f"{op} pool_size", 1)
    stride = pool if stride is None else _checks.pair(stride, f"{op} stride", 1)
    padding = padding4(padding, f"{op} padding")
    pt, pb, pl, pr = padding
    if max(pt, pb) >= pool[0] or max(pl, pr) >= pool[1]:
        raise ValueError(
            f"{op} padding must be smaller than the pool size on each side (a window must see "
            f"the input): expected each of (top, bottom) < {pool[0]} and (left, right) < {pool[1]}; "
            f"received padding {padding} with pool_size {pool}"
        )
    H, W = x.shape[2], x.shape[3]
    if pool[0] > H + pt + pb or pool[1] > W + pl + pr:
        raise ValueError(
            f"{op} pool_size must be no larger than the padded input: expected at most "
            f"({H + pt + pb}, {W + pl + pr}); received pool_size {pool} for x of shape {tuple(x.shape)}"
        )
    return x, pool, stride, padding


def _check_dout(dout, out_shape, dtype, op):
    dout = _checks.as_float(dout, f"{op} dout")
    _checks.shape_is(dout, f"{op} dout", out_shape)
    if np.dtype(dout.dtype) != dtype:
        raise TypeError(f"{op} dout must have dtype {dtype}; received {np.dtype(dout.dtype)}")
    return dout


def maxpool2d_forward(x, pool_size=2, stride=None, padding=0):
    """Max over each window of x (N, C, H, W); stride defaults to pool_size; padding is -inf.
    Ties send the gradient to the first maximum in the window (row-major), as PyTorch does."""
    x, pool, stride, padding = _pool_args(x, pool_size, stride, padding, "maxpool2d")
    out, cache = _device.backend("pool2d").maxpool2d_forward(x, pool, stride, padding)
    return out, (cache, tuple(out.shape), np.dtype(x.dtype))


def maxpool2d_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W)."""
    kernel_cache, out_shape, dtype = cache
    dout = _check_dout(dout, out_shape, dtype, "maxpool2d_backward")
    return _device.backend("pool2d").maxpool2d_backward(dout, kernel_cache)


def avgpool2d_forward(x, pool_size=2, stride=None, padding=0):
    """Mean over each window of x (N, C, H, W); padded positions are not counted (Keras/TF)."""
    x, pool, stride, padding = _pool_args(x, pool_size, stride, padding, "avgpool2d")
    out, cache = _device.backend("pool2d").avgpool2d_forward(x, pool, stride, padding)
    return out, (cache, tuple(out.shape), np.dtype(x.dtype))


def avgpool2d_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W)."""
    kernel_cache, out_shape, dtype = cache
    dout = _check_dout(dout, out_shape, dtype, "avgpool2d_backward")
    return _device.backend("pool2d").avgpool2d_backward(dout, kernel_cache)


def global_avgpool2d_forward(x):
    """x (N, C, H, W) -> (N, C), the mean of each channel's plane."""
    x = _checks.as_float(x, "global_avgpool2d input x")
    _checks.ndim(x, "global_avgpool2d input x (N, C, H, W)", 4)
    if x.shape[2] * x.shape[3] == 0:
        raise ValueError(f"global_avgpool2d needs H, W >= 1; received shape {tuple(x.shape)}")
    out, cache = _device.backend("pool2d").global_avgpool2d_forward(x)
    return out, (cache, tuple(out.shape), np.dtype(x.dtype))


def global_avgpool2d_backward(dout, cache):
    """dout (N, C) -> dx (N, C, H, W)."""
    kernel_cache, out_shape, dtype = cache
    dout = _check_dout(dout, out_shape, dtype, "global_avgpool2d_backward")
    return _device.backend("pool2d").global_avgpool2d_backward(dout, kernel_cache)
