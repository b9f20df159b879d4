"""Rescale on the CPU (Numba): one parallel loop over the flat (C-contiguous) view.

    forward    out[i] = x[i] * scale + offset
    backward   dx[i] = dout[i] * scale

scale and offset are cast to the array's dtype first, so a float32 array is computed in float32
(as the reference does). One implementation, so no VERSIONS table.
"""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def _affine(a, scale, offset, out):
    for i in prange(a.size):
        out[i] = a[i] * scale + offset


def _run(a, scale, offset):
    out = np.empty_like(a)
    t = a.dtype.type
    _affine(a.reshape(-1), t(scale), t(offset), out.reshape(-1))
    return out


def rescale_forward(x, scale, offset):
    # x (...) -> y (...), same dtype; the cache is scale
    return _run(x, scale, offset), scale


def rescale_backward(dout, scale):
    # dout (...) -> dx (...)
    return _run(dout, scale, 0.0)
