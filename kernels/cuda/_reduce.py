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
import math

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


NEG_INF = -math.inf
__all__ = ["RTPB", "block_sum", "block_max", "float64", "NEG_INF"]
