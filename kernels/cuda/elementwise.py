"""Elementwise helpers on the GPU (numba.cuda). One implementation each, so no VERSIONS table.

One thread per element of the flat (C-contiguous) view: thread i = blockIdx.x * blockDim.x +
threadIdx.x handles element i, and threads past the end do nothing. Consecutive threads touch
consecutive addresses, so every warp's loads coalesce into a few wide transactions.

    add           out[i] = a[i] + b[i]
    accumulate    dst[i] += src[i]                      (in place, on the device array passed in)
    scale_        a[i] *= s                             (in place)
    sum_squares   per-block partial sums of a[i]^2 in float64 (a shared-memory tree in each
                  block), the partials copied to the host and added there: a python float
    sum_to        x (M, K) -> (K,): one thread per column, walking down the M rows; neighbouring
                  threads read neighbouring columns of a row, so the walk coalesces
"""
import numpy as np
from numba import cuda, float64

from tinydl.kernels.cuda._launch import TPB, blocks, empty, flat, host_sum, on_device, writeback


@cuda.jit
def _add(a, b, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a[i] + b[i]


@cuda.jit
def _accumulate(dst, src):
    i = cuda.grid(1)
    if i < dst.size:
        dst[i] += src[i]


@cuda.jit
def _scale(a, s):
    i = cuda.grid(1)
    if i < a.size:
        a[i] *= s


@cuda.jit
def _sum_squares(a, partials):
    # each block reduces its TPB elements in shared memory; thread 0 writes the block's sum
    buf = cuda.shared.array(TPB, dtype=float64)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    v = 0.0
    if i < a.size:
        v = float64(a[i])
        v = v * v
    buf[t] = v
    cuda.syncthreads()
    half = TPB // 2
    while half > 0:                      # tree: 64, 32, ..., 1 partners
        if t < half:
            buf[t] += buf[t + half]
        cuda.syncthreads()
        half //= 2
    if t == 0:
        partials[cuda.blockIdx.x] = buf[0]


@cuda.jit
def _colsum(x, out):
    # x (M, K) -> out (K,): thread k sums column k in float64
    k = cuda.grid(1)
    m_rows, k_cols = x.shape
    if k < k_cols:
        acc = 0.0
        for m in range(m_rows):
            acc += float64(x[m, k])
        out[k] = acc


def add(a, b):
    # a, b (...) same shape -> a new device array a + b
    a, b = on_device(a), on_device(b)
    out = empty(a.shape, a.dtype)
    if out.size:
        _add[blocks(out.size), TPB](flat(a), flat(b), flat(out))
    return out


def accumulate(dst, src):
    # dst += src, in place (a NumPy dst gets the result copied back)
    if dst.size:
        with writeback(dst) as (d,):
            _accumulate[blocks(d.size), TPB](flat(d), flat(on_device(src)))


def scale_(a, s):
    # a *= s, in place
    if a.size:
        with writeback(a) as (d,):
            _scale[blocks(d.size), TPB](flat(d), d.dtype.type(s))


def sum_squares(a):
    # sum of a**2 accumulated in float64, as a python float (one small copy to the host)
    a = on_device(a)
    if a.size == 0:
        return 0.0
    nb = blocks(a.size)
    partials = empty((nb,), np.float64)
    _sum_squares[nb, TPB](flat(a), partials)
    return host_sum(partials)


def sum_to(x, shape):
    # x (..., *shape) -> (*shape): sum over the leading axes
    x = on_device(x)
    shape = tuple(int(s) for s in shape)
    size = int(np.prod(shape, dtype=np.int64))
    return colsum(x.reshape(x.size // max(size, 1), size)).reshape(shape)


def colsum(x2):
    """x2 (M, K) device array -> (K,): the column sums (also the bias gradient of dense)."""
    out = empty((x2.shape[1],), x2.dtype)
    if out.size:
        _colsum[blocks(out.size), TPB](x2, out)
    return out
