"""Merge ops: several tensors of one dtype combined into one (the merge layers' arithmetic).

    add_forward(xs)                   out = x_0 + x_1 + ...        dx_i = dout
    multiply_forward(xs)              out = x_0 * x_1 * ...        dx_i = dout * prod_{j != i} x_j
    average_forward(xs)               out = (x_0 + ... ) / n       dx_i = dout / n
    concatenate_forward(xs, axis)     out = the xs side by side on ``axis`` (not the batch axis)
                                      dx_i = the slice of dout that x_i filled

Each forward returns (out, cache); the matching backward takes (dout, cache) and returns the
list of input gradients, fresh arrays (none shares memory with dout or with another). The
arithmetic is the merge kernels' op pairs (kernels/<device>/merge.py), run as every family's
through tinydl/ops/_cache.py.
"""
from tinydl import device as _device
from tinydl._validate import is_int
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, kernel_section, run_backward, run_forward

__all__ = [
    "add_backward",
    "add_forward",
    "average_backward",
    "average_forward",
    "concatenate_backward",
    "concatenate_forward",
    "multiply_backward",
    "multiply_forward",
    "scale",
]


def _inputs(xs, op, same_shape=True):
    """xs as a list of >= 2 non-empty float arrays of one dtype (and one shape when ``same_shape``)."""
    if not isinstance(xs, (list, tuple)) or len(xs) < 2:
        got = type(xs).__name__ if not isinstance(xs, (list, tuple)) else f"{len(xs)} input(s)"
        raise ValueError(f"{op} needs a list of at least 2 arrays; received {got}")
    xs = [_checks.as_float(x, f"xs[{i}]") for i, x in enumerate(xs)]
    _checks.same_dtype(xs[0], **{f"xs[{i}]": x for i, x in enumerate(xs[1:], 1)})
    for i, x in enumerate(xs):
        _checks.nonempty(x, f"{op} input xs[{i}]")
    if same_shape:
        for i, x in enumerate(xs[1:], 1):
            if tuple(x.shape) != tuple(xs[0].shape):
                raise ValueError(f"{op} needs inputs of one shape; xs[0] has {tuple(xs[0].shape)}, "
                                 f"xs[{i}] has {tuple(x.shape)}")
    return xs


def _back(op, dout, cache):
    dout = check_dout(dout, cache, op, f"{op}_backward dout")
    return run_backward("merge", op, cache, dout)


def scale(a, s):
    """A new array a * s (s a finite number): e.g. a loss gradient times its loss weight."""
    a, s = _checks.as_float(a, "a"), _checks.finite_float(s, "s")
    with kernel_section():
        return _device.backend("merge").scale(a, s)


# ---- add / average / multiply -------------------------------------------------------------------
def add_forward(xs):
    """xs: a list of >= 2 arrays of one shape and dtype -> their sum, cache."""
    return run_forward("merge", "add", _inputs(xs, "add"))


def add_backward(dout, cache):
    """dout -> [dout, dout, ...] (copies), one per input."""
    return _back("add", dout, cache)


def average_forward(xs):
    """xs: a list of >= 2 arrays of one shape and dtype -> their mean, cache."""
    return run_forward("merge", "average", _inputs(xs, "average"))


def average_backward(dout, cache):
    """dout -> [dout / n] * n (fresh arrays)."""
    return _back("average", dout, cache)


def multiply_forward(xs):
    """xs: a list of >= 2 arrays of one shape and dtype -> their elementwise product, cache."""
    return run_forward("merge", "multiply", _inputs(xs, "multiply"))


def multiply_backward(dout, cache):
    """dx_i = dout * (the product of every other input)."""
    return _back("multiply", dout, cache)


# ---- concatenate ------------------------------------------------------------------------------
def concatenate_forward(xs, axis=1):
    """xs: >= 2 arrays of one dtype and rank, equal on every axis but ``axis`` -> out, cache.
    ``axis`` may be negative; the batch axis 0 cannot be joined."""
    xs = _inputs(xs, "concatenate", same_shape=False)
    rank = len(xs[0].shape)
    if not is_int(axis):
        raise TypeError(f"concatenate: axis must be an int; received axis={axis!r}")
    ax = int(axis) + rank if int(axis) < 0 else int(axis)
    if not 1 <= ax < rank:
        raise ValueError(f"concatenate: axis must name a non-batch axis of {rank}-D inputs "
                         f"(1..{rank - 1} or -{rank - 1}..-1); received axis={axis!r}")
    first = tuple(xs[0].shape)
    for i, x in enumerate(xs[1:], 1):
        s = tuple(x.shape)
        if len(s) != rank or s[:ax] + s[ax + 1:] != first[:ax] + first[ax + 1:]:
            raise ValueError(f"concatenate on axis {axis} needs inputs equal on every other axis; "
                             f"xs[0] has {first}, xs[{i}] has {s}")
    outer = 1
    for d in first[:ax]:
        outer *= int(d)
    out_shape = first[:ax] + (sum(int(x.shape[ax]) for x in xs),) + first[ax + 1:]
    out, cache = run_forward("merge", "concatenate", xs, outer, shape=out_shape,
                             meta=[tuple(x.shape) for x in xs])
    return out.reshape(out_shape), cache


def concatenate_backward(dout, cache):
    """dout (the joined shape) -> the slice each input filled, as fresh arrays."""
    parts = _back("concatenate", dout, cache)
    return [p.reshape(s) for p, s in zip(parts, cache.meta, strict=True)]
