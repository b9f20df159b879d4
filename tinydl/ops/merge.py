"""Merge ops: several tensors of one dtype combined into one (the merge layers' arithmetic).

    add_forward(xs)                   out = x_0 + x_1 + ...        dx_i = dout
    multiply_forward(xs)              out = x_0 * x_1 * ...        dx_i = dout * prod_{j != i} x_j
    average_forward(xs)               out = (x_0 + ... ) / n       dx_i = dout / n
    concatenate_forward(xs, axis)     out = the xs side by side on ``axis`` (not the batch axis)
                                      dx_i = the slice of dout that x_i filled

Each forward returns (out, cache); the matching backward takes (dout, cache) and returns the
list of input gradients, fresh arrays (none shares memory with dout or with another).
"""
from tinydl import device as _device
from tinydl._validate import is_int
from tinydl.ops import _checks
from tinydl.ops.elementwise import add, check_dout, saved

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


def _backend():
    return _device.backend("merge")


def _inputs(xs, op, same_shape=True):
    """xs as a list of >= 2 float arrays of one dtype (and one shape when ``same_shape``)."""
    if not isinstance(xs, (list, tuple)) or len(xs) < 2:
        got = type(xs).__name__ if not isinstance(xs, (list, tuple)) else f"{len(xs)} input(s)"
        raise ValueError(f"{op} needs a list of at least 2 arrays; received {got}")
    xs = [_checks.as_float(x, f"xs[{i}]") for i, x in enumerate(xs)]
    _checks.same_dtype(xs[0], **{f"xs[{i}]": x for i, x in enumerate(xs[1:], 1)})
    if same_shape:
        for i, x in enumerate(xs[1:], 1):
            if tuple(x.shape) != tuple(xs[0].shape):
                raise ValueError(f"{op} needs inputs of one shape; xs[0] has {tuple(xs[0].shape)}, "
                                 f"xs[{i}] has {tuple(x.shape)}")
    return xs


def _check_cache(cache, op):
    if not (hasattr(cache, "kernel") and isinstance(cache.kernel, tuple) and cache.kernel[:1] == (op,)):
        raise TypeError(f"{op}_backward needs the cache returned by {op}_forward; "
                        f"received {type(cache).__name__}")


def _copy(a):
    return _backend().scale(a, 1.0)


def scale(a, s):
    """A new array a * s (s a finite number): e.g. a loss gradient times its loss weight."""
    return _backend().scale(_checks.as_float(a, "a"), _checks.finite_float(s, "s"))


# ---- add / average ----------------------------------------------------------------------------
def add_forward(xs):
    """xs: a list of >= 2 arrays of one shape and dtype -> their sum, cache."""
    xs = _inputs(xs, "add")
    out = xs[0]
    for x in xs[1:]:
        out = add(out, x)
    return out, saved(("add", len(xs)), out)


def add_backward(dout, cache):
    """dout -> [dout, dout, ...] (copies), one per input."""
    _check_cache(cache, "add")
    dout = check_dout(dout, cache, "add")
    return [_copy(dout) for _ in range(cache.kernel[1])]


def average_forward(xs):
    """xs: a list of >= 2 arrays of one shape and dtype -> their mean, cache."""
    xs = _inputs(xs, "average")
    total = xs[0]
    for x in xs[1:]:
        total = add(total, x)
    out = _backend().scale(total, 1.0 / len(xs))
    return out, saved(("average", len(xs)), out)


def average_backward(dout, cache):
    """dout -> [dout / n] * n (fresh arrays)."""
    _check_cache(cache, "average")
    dout = check_dout(dout, cache, "average")
    n = cache.kernel[1]
    return [_backend().scale(dout, 1.0 / n) for _ in range(n)]


# ---- multiply ---------------------------------------------------------------------------------
def multiply_forward(xs):
    """xs: a list of >= 2 arrays of one shape and dtype -> their elementwise product, cache."""
    xs = _inputs(xs, "multiply")
    out = xs[0]
    for x in xs[1:]:
        out = _backend().multiply(out, x)
    return out, saved(("multiply", xs), out)


def multiply_backward(dout, cache):
    """dx_i = dout * (the product of every other input)."""
    _check_cache(cache, "multiply")
    dout = check_dout(dout, cache, "multiply")
    xs = cache.kernel[1]
    grads = []
    for i in range(len(xs)):
        g = dout
        for j, x in enumerate(xs):
            if j != i:
                g = _backend().multiply(g, x)
        grads.append(g)
    return grads


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
    inners = [int(x.size) // outer if outer else 0 for x in xs]
    out_shape = first[:ax] + (sum(int(x.shape[ax]) for x in xs),) + first[ax + 1:]
    out = _backend().concat(xs, outer).reshape(out_shape)
    return out, saved(("concatenate", outer, inners, [tuple(x.shape) for x in xs]), out)


def concatenate_backward(dout, cache):
    """dout (the joined shape) -> the slice each input filled, as fresh arrays."""
    _check_cache(cache, "concatenate")
    dout = check_dout(dout, cache, "concatenate")
    _, outer, inners, shapes = cache.kernel
    parts = _backend().split(dout, outer, inners)
    return [p.reshape(s) for p, s in zip(parts, shapes)]
