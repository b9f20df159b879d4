"""upsample2d_forward / upsample2d_backward: nearest-neighbour upsampling of NCHW images."""
from tinydl import device as _device
from tinydl.ops import _checks
from tinydl.ops.elementwise import check_dout, saved

__all__ = ["upsample2d_forward", "upsample2d_backward"]


def upsample2d_forward(x, size=2):
    """x (N, C, H, W) -> out (N, C, H*sh, W*sw), out[n, c, i, j] = x[n, c, i // sh, j // sw].

    size: int or (sh, sw), each >= 1."""
    x = _checks.as_float(x, "upsample2d input x")
    _checks.ndim(x, "upsample2d input x (N, C, H, W)", 4)
    size = _checks.pair(size, "upsample2d size", 1)
    out, cache = _device.backend("upsampling").upsample2d_forward(x, size)
    return out, saved(cache, out)


def upsample2d_backward(dout, cache):
    """dout (N, C, H*sh, W*sw) -> dx (N, C, H, W): each sh x sw block of dout summed."""
    dout = check_dout(dout, cache, "upsample2d")
    return _device.backend("upsampling").upsample2d_backward(dout, cache.kernel)
