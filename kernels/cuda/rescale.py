"""Rescale on the GPU (numba.cuda): one thread per element of the flat view (coalesced).

    forward    out[i] = x[i] * scale + offset
    backward   dx[i] = dout[i] * scale

One implementation, so no VERSIONS table.
"""
from numba import cuda

from tinydl.kernels.cuda._launch import TPB, blocks, empty, flat, on_device


@cuda.jit
def _affine(a, scale, offset, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a[i] * scale + offset


def _run(a, scale, offset):
    a = on_device(a)
    out = empty(a.shape, a.dtype)
    if out.size:
        t = a.dtype.type
        _affine[blocks(out.size), TPB](flat(a), t(scale), t(offset), flat(out))
    return out


def rescale_forward(x, scale, offset):
    # x (...) -> y (...) device array, same dtype; the cache is scale
    return _run(x, scale, offset), scale


def rescale_backward(dout, scale):
    # dout (...) -> dx (...) device array
    return _run(dout, scale, 0.0)
