"""Block-wide reductions in shared memory (private), used by every "a block per row" kernel.

A block of RTPB threads (one warp, 32) reduces one value per thread to one value for the whole block:

    buf[t] = v;  sync
    half = RTPB/2, RTPB/4, ..., 1:   if t < half: buf[t] op= buf[t + half];  sync
    result = buf[0];  sync (so the buffer can be reused at once)

log2(RTPB) steps instead of RTPB. The buffer is float64 whatever the data's dtype, so sums of
float32 values round once, at the end. On a GPU the last five steps could be warp shuffles
(shfl_down_sync, no shared memory, no sync); Numba's CUDA simulator, where these kernels are
tested, has no warp shuffles, so the tree stays in shared memory all the way down.
"""
import numpy as np
from numba import cuda, float64

RTPB = 32    # threads of a per-row block: one warp (a power of two)


@cuda.jit(device=True)
def block_sum(buf, v):
    t = cuda.threadIdx.x
    buf[t] = v
    cuda.syncthreads()
    half = RTPB // 2
    while half > 0:
        if t < half:
            buf[t] += buf[t + half]
        cuda.syncthreads()
        half //= 2
    total = buf[0]
    cuda.syncthreads()
    return total


@cuda.jit(device=True)
def block_max(buf, v):
    t = cuda.threadIdx.x
    buf[t] = v
    cuda.syncthreads()
    half = RTPB // 2
    while half > 0:
        if t < half:
            buf[t] = max(buf[t], buf[t + half])
        cuda.syncthreads()
        half //= 2
    best = buf[0]
    cuda.syncthreads()
    return best



# ---- the sum of a float64 array, for losses: per-block partials, added on the host ----------
STPB = 128   # threads per block of _partial_sums


@cuda.jit
def _partial_sums(terms, partials):
    buf = cuda.shared.array(STPB, dtype=float64)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    buf[t] = terms[i] if i < terms.size else 0.0
    cuda.syncthreads()
    half = STPB // 2
    while half > 0:
        if t < half:
            buf[t] += buf[t + half]
        cuda.syncthreads()
        half //= 2
    if t == 0:
        partials[cuda.blockIdx.x] = buf[0]


def total(terms):
    """The sum of the float64 device array ``terms`` as a python float: one reduction kernel,
    then the small array of per-block partial sums is the one copy to the host."""
    from tinydl.kernels.cuda._launch import blocks, empty, host_sum
    n = terms.size
    if n == 0:
        return 0.0
    nb = blocks(n, STPB)
    partials = empty((nb,), np.float64)
    _partial_sums[nb, STPB](terms.reshape(n), partials)
    return host_sum(partials)
