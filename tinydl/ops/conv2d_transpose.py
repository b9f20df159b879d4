"""conv2d_transpose_forward / _backward: the transposed convolution, which is conv2d's input
gradient run as a forward pass (kernels/reference/conv2d_transpose.py derives it)."""
from tinydl._validate import conv_output_size, padding4
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward

__all__ = ["conv2d_transpose_forward", "conv2d_transpose_backward", "transpose_output_size"]


def transpose_output_size(size, kernel, stride, pad_before=0, pad_after=0, output_padding=0):
    """Length of one axis of a transposed convolution's output, PyTorch's formula:

        (size - 1) * stride - pad_before - pad_after + kernel + output_padding

    output_padding in [0, stride) picks one of the ``stride`` output sizes that the matching
    convolution maps back to ``size``."""
    return (size - 1) * stride - pad_before - pad_after + kernel + output_padding


def conv2d_transpose_forward(x, w, b, stride=1, padding=0, output_size=None):
    """x (N, C, H, W), w (C, F, KH, KW) (PyTorch's ConvTranspose2d layout), b (F,) or None
    -> out (N, F, OH, OW), the input gradient of the convolution out -> x with kernel w.

    stride, padding: those of that convolution (padding an int, (ph, pw) or (top, bottom, left,
    right): rows cropped from the full output). output_size (OH, OW): by default the smallest,
    (H - 1) * sh - pt - pb + KH; any size the convolution maps back to (H, W) is allowed
    (PyTorch's output_padding)."""
    x = _checks.as_float(x, "conv2d_transpose input x")
    w = _checks.as_float(w, "conv2d_transpose kernel w")
    b = None if b is None else _checks.as_float(b, "conv2d_transpose bias b")
    _checks.ndim(x, "conv2d_transpose input x (N, C, H, W)", 4)
    _checks.ndim(w, "conv2d_transpose kernel w (C, F, KH, KW)", 4)
    _checks.same_dtype(x, w=w, b=b)
    N, C, H, W = x.shape
    Cw, F, KH, KW = w.shape
    if Cw != C:
        raise ValueError(f"conv2d_transpose kernel expects {Cw} input channels (w has shape "
                         f"{tuple(w.shape)}); received x with {C} channels (shape {tuple(x.shape)})")
    _checks.nonempty(x, "conv2d_transpose input x (N, C, H, W)")
    _checks.nonempty(w, "conv2d_transpose kernel w (C, F, KH, KW)")
    if b is not None:
        _checks.shape_is(b, "conv2d_transpose bias b", (F,))
    stride = _checks.pair(stride, "conv2d_transpose stride", 1)
    padding = padding4(padding, "conv2d_transpose padding")
    output_size = _output_size(output_size, (H, W), (KH, KW), stride, padding)
    return run_forward("conv2d_transpose", "conv2d_transpose", x, w, b, stride, padding, output_size)


def _output_size(output_size, hw, kernel, stride, padding):
    pads = (padding[:2], padding[2:])
    if output_size is None:
        size = tuple(transpose_output_size(n, k, s, *p) for n, k, s, p in zip(hw, kernel, stride, pads))
        if min(size) < 1:
            raise ValueError(
                f"conv2d_transpose padding {padding} crops the whole output: the output size "
                f"(H - 1) * stride - pad_before - pad_after + kernel must be >= 1 on each axis; "
                f"received {size} for input {hw}, kernel {kernel}, stride {stride}")
        return size
    size = _checks.pair(output_size, "conv2d_transpose output_size", 1)
    for o, n, k, s, p in zip(size, hw, kernel, stride, pads):
        if conv_output_size(o, k, s, *p) != n:
            low = transpose_output_size(n, k, s, *p)
            raise ValueError(
                f"conv2d_transpose output_size must be one that the convolution (kernel {kernel}, "
                f"stride {stride}, padding {padding}) maps back to the input's {hw}: each in "
                f"[{low}, {low + s - 1}] on its axis; received output_size {size}")
    return size


def conv2d_transpose_backward(dout, cache):
    """dout (N, F, OH, OW) -> dx (N, C, H, W) (conv2d's forward of dout), dw (C, F, KH, KW),
    db (F,) (None without a bias)."""
    dout = check_dout(dout, cache, "conv2d_transpose", "conv2d_transpose_backward dout")
    return run_backward("conv2d_transpose", "conv2d_transpose", cache, dout)
