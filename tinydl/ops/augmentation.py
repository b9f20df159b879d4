"""flip2d / crop2d: per-sample image flips and crops of NCHW batches, and their backwards."""
import numpy as np

from tinydl import device as _device
from tinydl._validate import positive_int
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward

__all__ = ["flip2d_forward", "flip2d_backward", "crop2d_forward", "crop2d_backward"]


def _images(x, op):
    x = _checks.as_float(x, f"{op} input x")
    _checks.ndim(x, f"{op} input x (N, C, H, W)", 4)
    _checks.nonempty(x, f"{op} input x (N, C, H, W)")
    return x


def _per_sample(a, n, name, kind):
    host = np.asarray(_device.to_numpy(a))
    if host.shape != (n,):
        raise ValueError(f"{name} must have one entry per sample, shape ({n},); received shape {host.shape}")
    if kind == "bool":
        if host.dtype.kind != "b":
            raise TypeError(f"{name} must be a bool array; received dtype {host.dtype}")
        return np.ascontiguousarray(host)
    if host.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array; received dtype {host.dtype}")
    return np.ascontiguousarray(host, dtype=np.int64)


def flip2d_forward(x, flip_rows, flip_cols):
    """x (N, C, H, W) -> out (N, C, H, W): sample n upside down where flip_rows[n], mirrored
    left-right where flip_cols[n] (two bool arrays of shape (N,))."""
    x = _images(x, "flip2d")
    n = x.shape[0]
    rows = _per_sample(flip_rows, n, "flip2d flip_rows", "bool")
    cols = _per_sample(flip_cols, n, "flip2d flip_cols", "bool")
    return run_forward("augmentation", "flip2d", x, rows, cols)


def flip2d_backward(dout, cache):
    """dout (N, C, H, W) -> dx: the same flips (a flip is its own inverse)."""
    dout = check_dout(dout, cache, "flip2d", "flip2d_backward dout")
    return run_backward("augmentation", "flip2d", cache, dout)


def crop2d_forward(x, top, left, height, width):
    """x (N, C, H, W) -> out (N, C, height, width), out[n] = x[n, :, top[n]:+height, left[n]:+width].

    top, left: integer arrays of shape (N,), each window inside the image:
    0 <= top[n] <= H - height and 0 <= left[n] <= W - width."""
    x = _images(x, "crop2d")
    N, _, H, W = x.shape
    height = positive_int(height, "height", "crop2d")
    width = positive_int(width, "width", "crop2d")
    if height > H or width > W:
        raise ValueError(f"crop2d window ({height}, {width}) must fit the images ({H}, {W}); "
                         f"received x of shape {tuple(x.shape)}")
    top = _per_sample(top, N, "crop2d top", "int")
    left = _per_sample(left, N, "crop2d left", "int")
    for name, a, limit in (("top", top, H - height), ("left", left, W - width)):
        if N and (a.min() < 0 or a.max() > limit):
            raise ValueError(f"crop2d {name} must lie in [0, {limit}] for a window of ({height}, {width}) "
                             f"in ({H}, {W}) images; received {a.tolist()}")
    return run_forward("augmentation", "crop2d", x, top, left, height, width)


def crop2d_backward(dout, cache):
    """dout (N, C, height, width) -> dx (N, C, H, W): dout inside each sample's window, 0 outside."""
    dout = check_dout(dout, cache, "crop2d", "crop2d_backward dout")
    return run_backward("augmentation", "crop2d", cache, dout)
