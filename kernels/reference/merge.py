"""Merge kernels, plain NumPy: the ground truth of kernels/cpu/merge.py and kernels/cuda/merge.py.

The merge layers (Add, Multiply, Average, Concatenate) combine several tensors into one:

    multiply   out = a * b                       (same shape)
    scale      out = a * s                       (a new array; s a number)
    concat     xs[i] (outer, inner_i) -> out (outer, sum inner_i): the inputs side by side
    split      the reverse: x (outer, sum inner_i) -> [x[:, off_i : off_i + inner_i]]

concat and split see every array as 2-D: ``outer`` is the product of the axes before the
concatenation axis, ``inner_i`` the product of the rest, so one kernel serves every axis.

The op pairs that tinydl/ops/merge.py runs (add_forward ... concatenate_backward) are built from
these primitives by kernels/_merge_pairs.py, the same on every device.
"""
import numpy as np

from tinydl.kernels._merge_pairs import op_pairs as _op_pairs


def _add(a, b):
    # a, b (...) same shape -> a + b
    return a + b


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


# ---- the op pairs: add_forward ... concatenate_backward, as on every device --------------------
globals().update(_op_pairs(add=_add, multiply=multiply, scale=scale, concat=concat, split=split))
