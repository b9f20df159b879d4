"""conv2d_forward / conv2d_backward: validate once, then dispatch to the active device."""
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward, run_params_backward


def conv2d_forward(x, w, b, stride=1, padding=0):
    """Cross-correlation of x (N, C, H, W) with w (F, C, KH, KW), plus b (F,) or None.

    stride: int or (sh, sw); padding: int, (ph, pw) or (top, bottom, left, right).
    Returns out (N, F, OH, OW) and the cache for conv2d_backward."""
    return run_forward("conv2d", "conv2d", *_checked(x, w, b, stride, padding))


def conv2d_relu_forward(x, w, b, stride=1, padding=0):
    """ReLU(conv2d_forward(x, w, b, stride, padding)) as one op (a Conv2D with activation="relu";
    the CPU's v7 and v9 apply the ReLU where they add the bias). The same arguments and checks;
    returns out and the cache for conv2d_relu_backward."""
    return run_forward("conv2d", "conv2d_relu", *_checked(x, w, b, stride, padding))


def _checked(x, w, b, stride, padding):
    x = _checks.as_float(x, "conv2d input x")
    w = _checks.as_float(w, "conv2d kernel w")
    b = None if b is None else _checks.as_float(b, "conv2d bias b")
    _checks.ndim(x, "conv2d input x (N, C, H, W)", 4)
    _checks.ndim(w, "conv2d kernel w (F, C, KH, KW)", 4)
    _checks.same_dtype(x, w=w, b=b)
    _checks.nonempty(x, "conv2d input x (N, C, H, W)")
    _checks.nonempty(w, "conv2d kernel w (F, C, KH, KW)")
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
    padding = _checks.padding4(padding, "conv2d padding")
    pt, pb, pl, pr = padding
    if _checks.conv_output_size(H, KH, 1, pt, pb) < 1 or _checks.conv_output_size(W, KW, 1, pl, pr) < 1:
        raise ValueError(
            f"conv2d kernel must be no larger than the padded input: expected KH <= {H + pt + pb} "
            f"and KW <= {W + pl + pr}; received kernel {KH}x{KW} (w shape {tuple(w.shape)})"
        )
    return x, w, b, stride, padding


def conv2d_backward(dout, cache, need_dx=True):
    """dout (N, F, OH, OW) -> dx (N, C, H, W), dw (F, C, KH, KW), db (F,) (None without a bias).

    need_dx=False: dx is None and its work is skipped (the input needs no gradient)."""
    dout = check_dout(dout, cache, "conv2d", "conv2d_backward dout")
    if not need_dx:
        return (None, *run_params_backward("conv2d", "conv2d", cache, dout))
    return run_backward("conv2d", "conv2d", cache, dout)


def conv2d_relu_backward(dout, cache, need_dx=True):
    """dout (N, F, OH, OW) -> dx, dw, db through the ReLU and the convolution (need_dx as in
    conv2d_backward)."""
    dout = check_dout(dout, cache, "conv2d_relu", "conv2d_relu_backward dout")
    if not need_dx:
        return (None, *run_params_backward("conv2d", "conv2d_relu", cache, dout))
    return run_backward("conv2d", "conv2d_relu", cache, dout)
