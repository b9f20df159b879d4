"""rescale: y = x * scale + offset, the op behind layers.Rescaling (e.g. pixels 0..255 -> [0, 1]).

    rescale_forward(x, scale, offset=0.0) -> (y, cache)     integer x becomes float32 first
    rescale_backward(dout, cache)         -> dx = dout * scale
"""
from tinydl._validate import finite_float
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward

__all__ = ["rescale_forward", "rescale_backward"]


def rescale_forward(x, scale, offset=0.0):
    x = _checks.as_float(x, "x")
    scale = finite_float(scale, "scale", owner="rescale_forward")
    offset = finite_float(offset, "offset", owner="rescale_forward")
    return run_forward("rescale", "rescale", x, scale, offset)


def rescale_backward(dout, cache):
    dout = check_dout(dout, cache, "rescale")
    return run_backward("rescale", "rescale", cache, dout)
