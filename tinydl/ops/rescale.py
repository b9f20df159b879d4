"""rescale: y = x * scale + offset, the op behind layers.Rescaling (e.g. pixels 0..255 -> [0, 1]).

    rescale_forward(x, scale, offset=0.0) -> (y, cache)     integer x becomes float32 first
    rescale_backward(dout, cache)         -> dx = dout * scale
"""
from typing import NamedTuple

from tinydl import device as _device
from tinydl._validate import finite_float
from tinydl.ops import _checks
from tinydl.ops.elementwise import check_dout, saved

__all__ = ["rescale_forward", "rescale_backward"]


class _Kernel(NamedTuple):
    scale: float


def _backend():
    return _device.backend("rescale")


def rescale_forward(x, scale, offset=0.0):
    x = _checks.as_float(x, "x")
    scale = finite_float(scale, "scale", owner="rescale_forward")
    offset = finite_float(offset, "offset", owner="rescale_forward")
    out = _backend().rescale_forward(x, scale, offset)
    return out, saved(_Kernel(scale), out)


def rescale_backward(dout, cache):
    d = check_dout(dout, cache, "rescale")
    return _backend().rescale_backward(d, cache.kernel.scale)
