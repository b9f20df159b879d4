"""Merge kernels on the CPU (Numba). One implementation each, so no VERSIONS table.

    multiply   out[i] = a[i] * b[i]                      (flat views, parallel over i)
    scale      out[i] = a[i] * s
    concat     out[o, off + j] = x[o, j] for each input x (outer, inner) at column offset off
    split      x_i[o, j] = x[o, off_i + j]

concat and split see every array as 2-D (outer, inner): outer is the product of the axes
before the concatenation axis, so each row of an input is one contiguous run copied into its
place in the output's row. The copies run in parallel over the rows.

The op pairs (add_forward ... concatenate_backward) are built from these, as the reference's.
"""
import numpy as np
from numba import njit, prange

from tinydl.kernels._merge_pairs import op_pairs as _op_pairs


@njit(parallel=True, cache=True)
def _multiply(a, b, out):
    for i in prange(a.size):
        out[i] = a[i] * b[i]


@njit(parallel=True, cache=True)
def _add_into(a, b, out):
    for i in prange(a.size):
        out[i] = a[i] + b[i]


@njit(parallel=True, cache=True)
def _scale(a, s, out):
    for i in prange(a.size):
        out[i] = a[i] * s


@njit(parallel=True, cache=True)
def _copy_into(src, dst, offset):
    # src (outer, inner) -> dst[:, offset:offset + inner]
    outer, inner = src.shape
    for o in prange(outer):
        for j in range(inner):
            dst[o, offset + j] = src[o, j]


@njit(parallel=True, cache=True)
def _copy_from(src, offset, dst):
    # src[:, offset:offset + inner] -> dst (outer, inner)
    outer, inner = dst.shape
    for o in prange(outer):
        for j in range(inner):
            dst[o, j] = src[o, offset + j]


def multiply(a, b):
    # a, b (...) same shape -> a * b
    out = np.empty_like(a)
    _multiply(a.ravel(), b.ravel(), out.ravel())
    return out


def _add(a, b):
    # a, b (...) same shape -> a + b
    out = np.empty_like(a)
    _add_into(a.ravel(), b.ravel(), out.ravel())
    return out


def scale(a, s):
    # a (...) -> a new array a * s
    out = np.empty_like(a)
    _scale(a.ravel(), a.dtype.type(s), out.ravel())
    return out


def concat(xs, outer):
    # xs[i] (outer * inner_i,) -> out (outer, sum inner_i)
    parts = [x.reshape(outer, -1) for x in xs]
    out = np.empty((outer, sum(p.shape[1] for p in parts)), dtype=xs[0].dtype)
    offset = 0
    for p in parts:
        _copy_into(p, out, offset)
        offset += p.shape[1]
    return out


def split(x, outer, inners):
    # x (outer, sum inners) -> [(outer, inner_i)]
    x2 = x.reshape(outer, -1)
    outs, offset = [], 0
    for inner in inners:
        d = np.empty((outer, inner), dtype=x.dtype)
        _copy_from(x2, offset, d)
        outs.append(d)
        offset += inner
    return outs


# ---- the op pairs: add_forward ... concatenate_backward, as on every device --------------------
globals().update(_op_pairs(add=_add, multiply=multiply, scale=scale, concat=concat, split=split))
