"""upsample2d_forward / upsample2d_backward: nearest-neighbour upsampling of NCHW images."""
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward

__all__ = ["upsample2d_forward", "upsample2d_backward"]


def upsample2d_forward(x, size=2):
    """x (N, C, H, W) -> out (N, C, H*sh, W*sw), out[n, c, i, j] = x[n, c, i // sh, j // sw].

    size: int or (sh, sw), each >= 1."""
    x = _checks.as_float(x, "upsample2d input x")
    _checks.ndim(x, "upsample2d input x (N, C, H, W)", 4)
    _checks.nonempty(x, "upsample2d input x (N, C, H, W)")
    size = _checks.pair(size, "upsample2d size", 1)
    return run_forward("upsampling", "upsample2d", x, size)


def upsample2d_backward(dout, cache):
    """dout (N, C, H*sh, W*sw) -> dx (N, C, H, W): each sh x sw block of dout summed."""
    dout = check_dout(dout, cache, "upsample2d", "upsample2d_backward dout")
    return run_backward("upsampling", "upsample2d", cache, dout)
