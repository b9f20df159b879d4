"""Merge kernels, plain NumPy: the ground truth of kernels/cpu/merge.py and kernels/cuda/merge.py.

The merge layers (Add, Multiply, Average, Concatenate) combine several tensors into one:

    multiply   out = a * b                       (same shape)
    scale      out = a * s                       (a new array; s a number)
    concat     xs[i] (outer, inner_i) -> out (outer, sum inner_i): the inputs side by side
    split      the reverse: x (outer, sum inner_i) -> [x[:, off_i : off_i + inner_i]]

concat and split see every array as 2-D: ``outer`` is the product of the axes before the
concatenation axis, ``inner_i`` the product of the rest, so one kernel serves every axis.

The op pairs (tinydl/ops/merge.py) are built from them, the same on every device:

    add_forward(xs)          -> sum, n                 add_backward(dout, n)       -> [dout] * n (copies)
    average_forward(xs)      -> sum / n, n             average_backward(dout, n)   -> [dout / n] * n
    multiply_forward(xs)     -> product, xs            multiply_backward(dout, xs) -> [dout * prod_{j != i} x_j]
    concatenate_forward(xs, outer) -> (outer, sum inner_i), (outer, inners)
    concatenate_backward(dout, (outer, inners))        -> split(dout, outer, inners)
"""
import numpy as np


def multiply(a, b):
    # a, b (...) same shape -> a * b
    return a * b


def scale(a, s):
    # a (...) -> a new array a * s
    return a * a.dtype.type(s)


def concat(xs, outer):
    # xs[i] flat (outer * inner_i,) -> out (outer, sum inner_i)
    return np.concatenate([x.reshape(outer, -1) for x in xs], axis=1)


def split(x, outer, inners):
    # x (outer, sum inners) -> [(outer, inner_i)], fresh arrays
    offsets = np.cumsum([0] + list(inners))
    x2 = x.reshape(outer, -1)
    return [x2[:, offsets[i]:offsets[i + 1]].copy() for i in range(len(inners))]


# ---- the op pairs --------------------------------------------------------------------------------
def add_forward(xs):
    # xs: n arrays of one shape -> x_0 + x_1 + ..., n
    out = xs[0] + xs[1]
    for x in xs[2:]:
        out = out + x
    return out, len(xs)


def add_backward(dout, cache):
    return [scale(dout, 1.0) for _ in range(cache)]


def average_forward(xs):
    out, n = add_forward(xs)
    return scale(out, 1.0 / n), n


def average_backward(dout, cache):
    return [scale(dout, 1.0 / cache) for _ in range(cache)]


def multiply_forward(xs):
    out = multiply(xs[0], xs[1])
    for x in xs[2:]:
        out = multiply(out, x)
    return out, list(xs)


def multiply_backward(dout, cache):
    # dx_i = dout * (the product of every other input), multiplied left to right
    grads = []
    for i in range(len(cache)):
        g = dout
        for j, x in enumerate(cache):
            if j != i:
                g = multiply(g, x)
        grads.append(g)
    return grads


def concatenate_forward(xs, outer):
    # xs[i] (..., inner_i after the axis) -> out (outer, sum inner_i), (outer, inners)
    return concat(xs, outer), (outer, [int(x.size) // outer for x in xs])


def concatenate_backward(dout, cache):
    outer, inners = cache
    return split(dout, outer, inners)
