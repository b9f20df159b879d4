"""Validation shared by the op families. Every check runs before any kernel does: Numba does
not check bounds, so a shape that slipped through here would be memory corruption."""
import numpy as np

from tinydl import device as _device

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


def shape_is(x, name: str, expected):
    if tuple(x.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}; received {tuple(x.shape)}")


def positive_int(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive int; received {v!r}")
    return int(v)


def pair(v, name: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints, each >= ``minimum``, as a pair."""
    vals = (v, v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else v
    try:
        a, b = vals
        ok = all(isinstance(t, (int, np.integer)) and not isinstance(t, bool) and t >= minimum
                 for t in (a, b))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them; received {v!r}")
    return int(a), int(b)


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


def finite_float(v, name: str, low=None, high=None, low_open=False, high_open=False) -> float:
    """A real number inside the given bounds."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; received {v!r}") from None
    bad = not np.isfinite(f)
    bad |= low is not None and (f <= low if low_open else f < low)
    bad |= high is not None and (f >= high if high_open else f > high)
    if bad:
        raise ValueError(f"{name} must be {_range_text(low, high, low_open, high_open)}; received {v!r}")
    return f


def _range_text(low, high, low_open, high_open) -> str:
    if high is None and low is None:
        return "a finite number"
    if high is None:
        return f"{'>' if low_open else '>='} {low}"
    if low is None:
        return f"{'<' if high_open else '<='} {high}"
    return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
