"""Validation shared by the op families. Every check runs before any kernel does: Numba does
not check bounds, so a shape that slipped through here would be memory corruption."""
import numpy as np

from tinydl import device as _device
from tinydl._validate import (  # noqa: F401  (re-exported for the op families)
    conv_output_size,
    finite_float,
    is_int,
    padding4,
    pair,
    positive_int,
)

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def as_float(x, name: str):
    """``x`` as a C-contiguous float32/float64 array (integer input becomes float32).

    NumPy input is copied only when it has to be; a device array must already be float32 or
    float64 and C-contiguous (device arrays made by tinydl always are)."""
    if _device.is_device_array(x):
        if np.dtype(x.dtype) not in FLOATS:
            raise TypeError(f"{name} must be float32 or float64; received dtype {x.dtype}")
        return x
    a = np.asarray(x)
    if a.dtype.kind in "iub":
        return np.ascontiguousarray(a, dtype=np.float32)
    if a.dtype not in FLOATS:
        raise TypeError(f"{name} must be a float32, float64 or integer array; received dtype {a.dtype}")
    return np.ascontiguousarray(a)


def same_dtype(reference, **named):
    """Each named array must have the dtype of ``reference``."""
    for name, a in named.items():
        if a is not None and np.dtype(a.dtype) != np.dtype(reference.dtype):
            raise TypeError(
                f"{name} must have the input's dtype {np.dtype(reference.dtype)}; "
                f"received {np.dtype(a.dtype)}"
            )


def ndim(x, name: str, allowed):
    """x.ndim must be one of ``allowed`` (an int or a tuple of ints)."""
    allowed = (allowed,) if isinstance(allowed, int) else tuple(allowed)
    if len(x.shape) not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{name} must be {want}; received shape {tuple(x.shape)}")


def nonempty(x, name: str):
    """No axis of x may be empty: a kernel that loops over it would index past its end."""
    if any(int(d) < 1 for d in x.shape):
        raise ValueError(f"{name} must have no empty axis (every size >= 1); received shape {tuple(x.shape)}")


def shape_is(x, name: str, expected):
    if tuple(x.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}; received {tuple(x.shape)}")


def labels(y, n: int, classes: int, name: str = "labels"):
    """Integer class indices of shape (n,), each inside [0, classes), as int64."""
    host = _device.to_numpy(y)
    if host.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer class indices; received dtype {host.dtype}")
    if host.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},); received {host.shape}")
    if n and (host.min() < 0 or host.max() >= classes):
        bad = host[(host < 0) | (host >= classes)][0]
        raise ValueError(f"{name} must lie in [0, {classes}); received a label {int(bad)}")
    if _device.is_device_array(y):
        return y
    return np.ascontiguousarray(host, dtype=np.int64)
