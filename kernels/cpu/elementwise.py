"""Elementwise helpers on the CPU (Numba). One implementation each, so no VERSIONS table.

The Python wrappers hand the kernels flat 1-D views of the (C-contiguous) arrays, so every
kernel compiles once per dtype, whatever the rank of the caller's array. The loops run in
parallel (prange) over the flat index; with the OpenMP threading layer the fork/join costs about
a microsecond, so small arrays lose nothing measurable.

    add           out[i] = a[i] + b[i]
    accumulate    dst[i] += src[i]                          (in place)
    scale_        a[i] *= s                                 (in place)
    sum_squares   sum_i a[i]^2, accumulated in float64
    sum_to        x (M, K) -> (K,): column sums, accumulated in float64, parallel over column
                  blocks so each thread streams whole rows of its block
"""
import numpy as np
from numba import njit, prange

_BLOCK = 64   # columns per parallel task in _colsum


@njit(parallel=True, cache=True)
def _add(a, b, out):
    for i in prange(a.size):
        out[i] = a[i] + b[i]


@njit(parallel=True, cache=True)
def _accumulate(dst, src):
    for i in prange(dst.size):
        dst[i] += src[i]


@njit(parallel=True, cache=True)
def _scale(a, s):
    for i in prange(a.size):
        a[i] *= s


@njit(parallel=True, cache=True)
def _sum_squares(a):
    total = 0.0
    for i in prange(a.size):
        v = np.float64(a[i])
        total += v * v
    return total


@njit(parallel=True, cache=True)
def _colsum(x):
    # x (M, K) -> out (K,) in x's dtype; each block of columns sums in float64
    m_rows, k_cols = x.shape
    out = np.empty(k_cols, dtype=x.dtype)
    n_blocks = (k_cols + _BLOCK - 1) // _BLOCK
    for blk in prange(n_blocks):
        k0 = blk * _BLOCK
        k1 = min(k0 + _BLOCK, k_cols)
        acc = np.zeros(k1 - k0, dtype=np.float64)
        for m in range(m_rows):
            for k in range(k0, k1):
                acc[k - k0] += x[m, k]
        for k in range(k0, k1):
            out[k] = acc[k - k0]
    return out


def add(a, b):
    # a, b (...) same shape -> a new array a + b
    out = np.empty_like(a)
    _add(a.reshape(-1), b.reshape(-1), out.reshape(-1))
    return out


def accumulate(dst, src):
    # dst += src, in place (same shape)
    _accumulate(dst.reshape(-1), src.reshape(-1))


def scale_(a, s):
    # a *= s, in place
    _scale(a.reshape(-1), a.dtype.type(s))


def sum_squares(a):
    # sum of a**2 in float64, as a python float
    return float(_sum_squares(a.reshape(-1)))


def sum_to(x, shape):
    # x (..., *shape) -> (*shape): sum over the leading axes
    size = int(np.prod(shape, dtype=np.int64))
    return colsum(x.reshape(-1, size)).reshape(shape)


def colsum(x2):
    """x2 (M, K) -> (K,): the column sums (also the bias gradient of dense)."""
    return _colsum(x2)
