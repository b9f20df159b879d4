"""Elementwise helpers: add, accumulate, scale_, sum_squares, sum_to.

Layers and optimizers call these instead of doing arithmetic on arrays themselves, so the same
code runs on every device. The in-place ones (accumulate, scale_) need a C-contiguous float
array to write into: a copy made here would swallow the update.
"""
import numpy as np

from tinydl import device as _device
from tinydl.ops import _checks
from tinydl.ops._cache import kernel_section

__all__ = ["add", "accumulate", "scale_", "sum_squares", "sum_to"]


# ---- helpers shared by the in-place families (elementwise, optim) ---------------------------
def inplace(a, name: str):
    """An array updated in place must already be a C-contiguous float32/float64 array."""
    if _device.is_device_array(a):
        ok = a.is_c_contiguous()
    elif isinstance(a, np.ndarray):
        ok = a.flags.c_contiguous and a.flags.writeable
    else:
        raise TypeError(f"{name} is updated in place and must be an array; received {type(a).__name__}")
    if np.dtype(a.dtype) not in _checks.FLOATS:
        raise TypeError(f"{name} must be float32 or float64; received dtype {a.dtype}")
    if not ok:
        raise ValueError(f"{name} is updated in place and must be a writeable C-contiguous array; "
                         f"received a non-contiguous or read-only view of shape {tuple(a.shape)}")
    return a


def like(a, ref, name: str):
    """``a`` as a contiguous float array with ``ref``'s shape and dtype."""
    b = _checks.as_float(a, name)
    _checks.shape_is(b, name, ref.shape)
    _checks.same_dtype(ref, **{name: b})
    return b


def targets_like(t, ref, name: str):
    """Target data (floats, ints or bools) with ``ref``'s shape, cast to ``ref``'s dtype: targets
    are data, so float64 targets for a float32 model are converted, not refused."""
    if _device.is_device_array(t):
        b = _checks.as_float(t, name)
        _checks.same_dtype(ref, **{name: b})
    else:
        host = np.asarray(t)
        if host.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a numeric array; received dtype {host.dtype}")
        b = np.ascontiguousarray(host, dtype=ref.dtype)
    _checks.shape_is(b, name, ref.shape)
    return b


def _call(name, *args):
    with kernel_section():
        return getattr(_device.backend("elementwise"), name)(*args)


# ---- the ops ----------------------------------------------------------------------------------
def add(a, b):
    """A new array a + b (same shape, same dtype)."""
    a = _checks.as_float(a, "a")
    b = like(b, a, "b")
    return _call("add", a, b)


def accumulate(dst, src):
    """dst += src in place (same shape, same dtype); returns None."""
    dst = inplace(dst, "dst")
    src = like(src, dst, "src")
    _call("accumulate", dst, src)


def scale_(a, s):
    """a *= s in place (s a number); returns None."""
    a = inplace(a, "a")
    s = _checks.finite_float(s, "s")
    _call("scale_", a, s)


def sum_squares(a) -> float:
    """The sum of a**2 as a python float, accumulated in float64."""
    return _call("sum_squares", _checks.as_float(a, "a"))


def sum_to(x, shape):
    """x summed over its leading axes down to ``shape``, which must end x's shape:
    (N, L, E) -> (L, E) or (E,). The gradient of a parameter broadcast over those axes."""
    x = _checks.as_float(x, "x")
    _checks.nonempty(x, "x")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be a tuple of ints; received {shape!r}") from None
    xs = tuple(x.shape)
    if len(shape) > len(xs) or (shape and xs[len(xs) - len(shape):] != shape):
        raise ValueError(f"shape must be a trailing part of x's shape {xs}; received {shape}")
    return _call("sum_to", x, shape)
