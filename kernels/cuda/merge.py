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


# ---- the op pairs (as kernels/reference/merge.py) ----------------------------------------------
def add_forward(xs):
    # xs: n arrays of one shape -> x_0 + x_1 + ..., n
    out = _add(xs[0], xs[1])
    for x in xs[2:]:
        out = _add(out, x)
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
    # xs[i] -> out (outer, sum inner_i), (outer, inners)
    return concat(xs, outer), (outer, [int(x.size) // outer for x in xs])


def concatenate_backward(dout, cache):
    outer, inners = cache
    return split(dout, outer, inners)
