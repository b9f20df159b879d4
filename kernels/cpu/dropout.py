"""Inverted dropout on the CPU (Numba). One implementation, so no VERSIONS table.

The mask is the reference's counter-based hash of (seed, flat index) (splitmix64, see
kernels/reference/dropout.py), so it is bit-identical across devices. Because any element's
keep/drop decision can be recomputed from its index alone, the loop runs in parallel with no
shared generator state, and the backward pass recomputes the mask instead of storing it: the
cache holds two numbers instead of an array the size of x.
"""
import numpy as np
from numba import njit, prange

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 2.0 ** -53


@njit(cache=True)
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(parallel=True, cache=True)
def _dropout(x, seed, rate, scale, out):
    # out[i] = x[i] * scale if u(seed, i) >= rate else 0   (x, out flat)
    key = _mix(seed)
    zero = x.dtype.type(0)
    for i in prange(x.size):
        z = _mix(key + np.uint64(i + 1) * _GOLDEN)
        u = np.float64(z >> _S11) * _TO_UNIT
        out[i] = x[i] * scale if u >= rate else zero


def dropout_forward(x, rate, seed, training=True):
    # x (...) -> out (...), cache; identity (a copy) when not training or rate == 0
    if not training or rate == 0:
        return x.copy(), None
    scale = x.dtype.type(1 / (1 - rate))
    out = np.empty_like(x)
    _dropout(x.reshape(-1), np.uint64(seed), float(rate), scale, out.reshape(-1))
    return out, (np.uint64(seed), float(rate), scale)


def dropout_backward(dout, cache):
    # dx = dout * scale where kept (the forward's mask, recomputed), else 0
    if cache is None:
        return dout.copy()
    seed, rate, scale = cache
    dx = np.empty_like(dout)
    _dropout(dout.reshape(-1), seed, rate, dout.dtype.type(scale), dx.reshape(-1))
    return dx
