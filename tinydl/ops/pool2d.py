"""Max, average and global average pooling: validate once, then dispatch to the active device."""
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward


def _pool_args(x, pool_size, stride, padding, op):
    x = _checks.as_float(x, f"{op} input x")
    _checks.ndim(x, f"{op} input x (N, C, H, W)", 4)
    _checks.nonempty(x, f"{op} input x (N, C, H, W)")
    pool = _checks.pair(pool_size, f"{op} pool_size", 1)
    stride = pool if stride is None else _checks.pair(stride, f"{op} stride", 1)
    padding = _checks.padding4(padding, f"{op} padding")
    pt, pb, pl, pr = padding
    if max(pt, pb) >= pool[0] or max(pl, pr) >= pool[1]:
        raise ValueError(
            f"{op} padding must be smaller than the pool size on each side (a window must see "
            f"the input): expected each of (top, bottom) < {pool[0]} and (left, right) < {pool[1]}; "
            f"received padding {padding} with pool_size {pool}"
        )
    H, W = x.shape[2], x.shape[3]
    if _checks.conv_output_size(H, pool[0], 1, pt, pb) < 1 or _checks.conv_output_size(W, pool[1], 1, pl, pr) < 1:
        raise ValueError(
            f"{op} pool_size must be no larger than the padded input: expected at most "
            f"({H + pt + pb}, {W + pl + pr}); received pool_size {pool} for x of shape {tuple(x.shape)}"
        )
    return x, pool, stride, padding


def maxpool2d_forward(x, pool_size=2, stride=None, padding=0):
    """Max over each window of x (N, C, H, W); stride defaults to pool_size; padding is -inf.
    Ties send the gradient to the first maximum in the window (row-major), as PyTorch does;
    a window holding a NaN gives NaN (as the reference and PyTorch)."""
    x, pool, stride, padding = _pool_args(x, pool_size, stride, padding, "maxpool2d")
    return run_forward("pool2d", "maxpool2d", x, pool, stride, padding)


def maxpool2d_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W)."""
    dout = check_dout(dout, cache, "maxpool2d", "maxpool2d_backward dout")
    return run_backward("pool2d", "maxpool2d", cache, dout)


def avgpool2d_forward(x, pool_size=2, stride=None, padding=0):
    """Mean over each window of x (N, C, H, W); padded positions are not counted (Keras/TF)."""
    x, pool, stride, padding = _pool_args(x, pool_size, stride, padding, "avgpool2d")
    return run_forward("pool2d", "avgpool2d", x, pool, stride, padding)


def avgpool2d_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W)."""
    dout = check_dout(dout, cache, "avgpool2d", "avgpool2d_backward dout")
    return run_backward("pool2d", "avgpool2d", cache, dout)


def global_avgpool2d_forward(x):
    """x (N, C, H, W) -> (N, C), the mean of each channel's plane."""
    x = _checks.as_float(x, "global_avgpool2d input x")
    _checks.ndim(x, "global_avgpool2d input x (N, C, H, W)", 4)
    _checks.nonempty(x, "global_avgpool2d input x (N, C, H, W)")
    return run_forward("pool2d", "global_avgpool2d", x)


def global_avgpool2d_backward(dout, cache):
    """dout (N, C) -> dx (N, C, H, W)."""
    dout = check_dout(dout, cache, "global_avgpool2d", "global_avgpool2d_backward dout")
    return run_backward("pool2d", "global_avgpool2d", cache, dout)
