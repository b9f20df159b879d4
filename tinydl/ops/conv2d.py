"""conv2d_forward / conv2d_backward: validate once, then dispatch to the active device."""
import numpy as np

from tinydl import device as _device
from tinydl._validate import padding4
from tinydl.ops import _checks


def conv2d_forward(x, w, b, stride=1, padding=0):
    """Cross-correlation of x (N, C, H, W) with w (F, C, KH, KW), plus b (F,) or None.

    stride: int or (sh, sw); padding: int, (ph, pw) or (top, bottom, left, right).
    Returns out (N, F, OH, OW) and the cache for conv2d_backward."""
    x = _checks.as_float(x, "conv2d input x")
    w = _checks.as_float(w, "conv2d kernel w")
    b = None if b is None else _checks.as_float(b, "conv2d bias b")
    _checks.ndim(x, "conv2d input x (N, C, H, W)", 4)
    _checks.ndim(w, "conv2d kernel w (F, C, KH, KW)", 4)
    _checks.same_dtype(x, w=w, b=b)
    N, C, H, W = x.shape
    F, Cw, KH, KW = w.shape
    if Cw != C:
        raise ValueError(
            f"conv2d kernel expects {Cw} input channels (w has shape {tuple(w.shape)}); "
            f"received x with {C} channels (shape {tuple(x.shape)})"
        )
    if b is not None:
        _checks.shape_is(b, "conv2d bias b", (F,))
    stride = _checks.pair(stride, "conv2d stride", 1)
    padding = padding4(padding, "conv2d padding")
    pt, pb, pl, pr = padding
    if KH > H + pt + pb or KW > W + pl + pr or min(KH, KW) < 1:
        raise ValueError(
            f"conv2d kernel must be no larger than the padded input: expected KH <= {H + pt + pb} "
            f"and KW <= {W + pl + pr}; received kernel {KH}x{KW} (w shape {tuple(w.shape)})"
        )
    if N < 1 or C < 1 or F < 1:
        raise ValueError(f"conv2d needs N, C, F >= 1; received x {tuple(x.shape)}, w {tuple(w.shape)}")
    out, cache = _device.backend("conv2d").conv2d_forward(x, w, b, stride, padding)
    return out, (cache, tuple(out.shape), np.dtype(x.dtype))


def conv2d_backward(dout, cache):
    """dout (N, F, OH, OW) -> dx (N, C, H, W), dw (F, C, KH, KW), db (F,) (None without a bias)."""
    kernel_cache, out_shape, dtype = cache
    dout = _checks.as_float(dout, "conv2d_backward dout")
    _checks.shape_is(dout, "conv2d_backward dout", out_shape)
    if np.dtype(dout.dtype) != dtype:
        raise TypeError(f"conv2d_backward dout must have dtype {dtype}; received {np.dtype(dout.dtype)}")
    return _device.backend("conv2d").conv2d_backward(dout, kernel_cache)
