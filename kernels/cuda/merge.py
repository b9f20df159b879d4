"""Merge kernels on the GPU (numba.cuda). One implementation each, so no VERSIONS table.

    multiply   one thread per element: out[i] = a[i] * b[i]
    scale      one thread per element: out[i] = a[i] * s
    concat     one thread per element of each input x (outer, inner), launched once per input:
               thread t = o * inner + j writes out[o, off + j]; consecutive threads write
               consecutive addresses of a row, so the stores coalesce
    split      the reverse copy, one thread per element of each output

The op pairs (add_forward ... concatenate_backward) are built from these, as the reference's.
"""
from numba import cuda

from tinydl.kernels._merge_pairs import op_pairs as _op_pairs
from tinydl.kernels.cuda._launch import TPB, blocks, empty, flat, on_device


@cuda.jit
def _multiply(a, b, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a[i] * b[i]


@cuda.jit
def _add_into(a, b, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a[i] + b[i]


@cuda.jit
def _scale(a, s, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a[i] * s


@cuda.jit
def _copy_into(src, dst, offset):
    # src (outer, inner) -> dst[:, offset:offset + inner]
    t = cuda.grid(1)
    outer, inner = src.shape
    if t < outer * inner:
        o, j = t // inner, t % inner
        dst[o, offset + j] = src[o, j]


@cuda.jit
def _copy_from(src, offset, dst):
    # src[:, offset:offset + inner] -> dst (outer, inner)
    t = cuda.grid(1)
    outer, inner = dst.shape
    if t < outer * inner:
        o, j = t // inner, t % inner
        dst[o, j] = src[o, offset + j]


def multiply(a, b):
    # a, b (...) same shape -> a new device array a * b
    a, b = on_device(a), on_device(b)
    out = empty(a.shape, a.dtype)
    if out.size:
        _multiply[blocks(out.size), TPB](flat(a), flat(b), flat(out))
    return out


def _add(a, b):
    # a, b (...) same shape -> a new device array a + b
    a, b = on_device(a), on_device(b)
    out = empty(a.shape, a.dtype)
    if out.size:
        _add_into[blocks(out.size), TPB](flat(a), flat(b), flat(out))
    return out


def scale(a, s):
    # a (...) -> a new device array a * s
    a = on_device(a)
    out = empty(a.shape, a.dtype)
    if out.size:
        _scale[blocks(out.size), TPB](flat(a), a.dtype.type(s), flat(out))
    return out


def concat(xs, outer):
    # xs[i] (outer * inner_i,) -> out (outer, sum inner_i)
    parts = [on_device(x).reshape(outer, x.size // outer) for x in xs]
    out = empty((outer, sum(p.shape[1] for p in parts)), parts[0].dtype)
    offset = 0
    for p in parts:
        if p.size:
            _copy_into[blocks(p.size), TPB](p, out, offset)
        offset += p.shape[1]
    return out


def split(x, outer, inners):
    # x (outer, sum inners) -> [(outer, inner_i)]
    x = on_device(x)
    x2 = x.reshape(outer, x.size // outer)
    outs, offset = [], 0
    for inner in inners:
        d = empty((outer, inner), x.dtype)
        if d.size:
            _copy_from[blocks(d.size), TPB](x2, offset, d)
        outs.append(d)
        offset += inner
    return outs


# ---- the op pairs: add_forward ... concatenate_backward, as on every device --------------------
globals().update(_op_pairs(add=_add, multiply=multiply, scale=scale, concat=concat, split=split))
