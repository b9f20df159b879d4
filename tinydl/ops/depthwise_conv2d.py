"""depthwise_conv2d_forward / _backward: validate once, then dispatch to the active device."""
from tinydl._validate import conv_output_size, padding4
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward

__all__ = ["depthwise_conv2d_forward", "depthwise_conv2d_backward"]


def depthwise_conv2d_forward(x, w, b, stride=1, padding=0):
    """Each channel of x (N, C, H, W) convolved with its own M kernels: w (C*M, 1, KH, KW)
    (PyTorch's Conv2d(groups=C) layout), b (C*M,) or None -> out (N, C*M, OH, OW), output
    channel o = c*M + m reading input channel c = o // M only.

    stride: int or (sh, sw); padding: int, (ph, pw) or (top, bottom, left, right)."""
    x = _checks.as_float(x, "depthwise_conv2d input x")
    w = _checks.as_float(w, "depthwise_conv2d kernel w")
    b = None if b is None else _checks.as_float(b, "depthwise_conv2d bias b")
    _checks.ndim(x, "depthwise_conv2d input x (N, C, H, W)", 4)
    _checks.ndim(w, "depthwise_conv2d kernel w (C*M, 1, KH, KW)", 4)
    _checks.same_dtype(x, w=w, b=b)
    _checks.nonempty(x, "depthwise_conv2d input x (N, C, H, W)")
    _checks.nonempty(w, "depthwise_conv2d kernel w (C*M, 1, KH, KW)")
    N, C, H, W = x.shape
    CM, one, KH, KW = w.shape
    if one != 1 or CM < C or CM % C:
        raise ValueError(f"depthwise_conv2d kernel must have shape (C*M, 1, KH, KW) with C = {C} "
                         f"input channels and M >= 1; received w {tuple(w.shape)} for x {tuple(x.shape)}")
    if b is not None:
        _checks.shape_is(b, "depthwise_conv2d bias b", (CM,))
    stride = _checks.pair(stride, "depthwise_conv2d stride", 1)
    padding = padding4(padding, "depthwise_conv2d padding")
    pt, pb, pl, pr = padding
    if conv_output_size(H, KH, 1, pt, pb) < 1 or conv_output_size(W, KW, 1, pl, pr) < 1:
        raise ValueError(
            f"depthwise_conv2d kernel must be no larger than the padded input: expected KH <= "
            f"{H + pt + pb} and KW <= {W + pl + pr}; received kernel {KH}x{KW}")
    return run_forward("depthwise_conv2d", "depthwise_conv2d", x, w, b, stride, padding)


def depthwise_conv2d_backward(dout, cache):
    """dout (N, C*M, OH, OW) -> dx (N, C, H, W), dw (C*M, 1, KH, KW), db (C*M,) (None without a bias)."""
    dout = check_dout(dout, cache, "depthwise_conv2d", "depthwise_conv2d_backward dout")
    return run_backward("depthwise_conv2d", "depthwise_conv2d", cache, dout)
