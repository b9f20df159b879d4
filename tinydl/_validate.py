"""Argument checks shared by layers, ops, optimizers and datasets.

One module, so the same mistake gets the same message everywhere, and ``np.int64(5)`` is an int
everywhere. Each check returns the value in its normal form (a Python int, a pair, a 4-tuple) or
raises ValueError naming what was expected and what was received. ``owner`` (optional) names the
layer or function, Keras style: "Conv2D: filters must be a positive int. Received: filters=0".
"""
import numpy as np

__all__ = ["is_int", "positive_int", "nonnegative_int", "pair", "padding4", "conv_output_size",
           "finite_float", "INDEX_MAX"]

# the largest window, stride or padding: kernels index in int64, and i * stride + padding must
# not overflow (a stride of 2**63 wraps around to a negative index)
INDEX_MAX = 2**31 - 1


def is_int(v) -> bool:
    """True for a Python or NumPy integer (bool is not an int here)."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _fail(owner, name, expected, v):
    prefix = f"{owner}: " if owner else ""
    return ValueError(f"{prefix}{name} must be {expected}. Received: {name}={v!r}")


def positive_int(v, name: str, owner: str | None = None) -> int:
    """``v`` as a Python int >= 1."""
    if not is_int(v) or v < 1:
        raise _fail(owner, name, "a positive int", v)
    return int(v)


def nonnegative_int(v, name: str, owner: str | None = None) -> int:
    """``v`` as a Python int >= 0."""
    if not is_int(v) or v < 0:
        raise _fail(owner, name, "an int >= 0", v)
    return int(v)


def pair(v, name: str, minimum: int = 1, owner: str | None = None) -> tuple[int, int]:
    """An int or a pair of ints, each in [``minimum``, INDEX_MAX], as a pair of Python ints."""
    vals = (v, v) if is_int(v) else v
    try:
        a, b = vals
        ok = all(is_int(t) and minimum <= t <= INDEX_MAX for t in (a, b))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise _fail(owner, name, f"an int >= {minimum} (and <= 2**31 - 1) or a pair of them", v)
    return int(a), int(b)


def padding4(padding, name: str = "padding", owner: str | None = None) -> tuple[int, int, int, int]:
    """An int, a pair (ph, pw) or a 4-tuple (top, bottom, left, right), each in [0, INDEX_MAX],
    as a 4-tuple."""
    def ok(v):
        return is_int(v) and 0 <= v <= INDEX_MAX
    if ok(padding):
        p = int(padding)
        return (p, p, p, p)
    if isinstance(padding, (tuple, list)) and all(ok(v) for v in padding):
        if len(padding) == 2:
            ph, pw = (int(v) for v in padding)
            return (ph, ph, pw, pw)
        if len(padding) == 4:
            return tuple(int(v) for v in padding)
    raise _fail(owner, name, "an int >= 0, a pair (ph, pw) or a 4-tuple (top, bottom, left, right) "
                "of ints >= 0 (and <= 2**31 - 1)", padding)


def conv_output_size(size: int, kernel: int, stride: int, pad_before: int = 0,
                     pad_after: int = 0, dilation: int = 1) -> int:
    """Output length of one axis of a convolution or pooling window:

        (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1

    It can be <= 0 (the window does not fit): callers decide what that means for them."""
    span = dilation * (kernel - 1) + 1
    return (size + pad_before + pad_after - span) // stride + 1


def finite_float(v, name: str, low=None, high=None, low_open=False, high_open=False,
                 owner: str | None = None) -> float:
    """``v`` as a finite Python float inside the given bounds (a bool is not a number here)."""
    try:
        if isinstance(v, (bool, np.bool_)):
            raise TypeError
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        raise _fail(owner, name, "a number", v) from None
    bad = not np.isfinite(f)
    bad |= low is not None and (f <= low if low_open else f < low)
    bad |= high is not None and (f >= high if high_open else f > high)
    if bad:
        raise _fail(owner, name, _range_text(low, high, low_open, high_open), v)
    return f


def _range_text(low, high, low_open, high_open) -> str:
    if high is None and low is None:
        return "a finite number"
    if high is None:
        return f"{'>' if low_open else '>='} {low}"
    if low is None:
        return f"{'<' if high_open else '<='} {high}"
    return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
