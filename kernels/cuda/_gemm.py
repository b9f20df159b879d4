"""GEMM on the GPU (numba.cuda): the matrix product under dense and conv2d, three versions.

    C (M, N) = A' (M, K) @ B' (K, N)  [+ bias (N,) on every row]
    A' = a, or a^T when ta = 1 (a stored (K, M));  B' = b, or b^T when tb = 1 (b stored (N, K))

The transposes are index swaps at load time (at(a, r, c, t) reads a[c, r] when t), so dense's
backward (dout @ w^T, x^T @ dout) needs no transposed copy. Blocks are 2-D; threadIdx.x runs
along C's columns, so a warp's writes of C (and its reads of B when tb = 0) are contiguous.

v1  one thread per output C[i, j], a loop over K reading A's row and B's column from global
    memory. Every input element is read from DRAM (or L2) by N (or M) threads: the product is
    memory-bound at about 2 flops per 8 bytes read. Not measured (no GPU in this session).
v2  shared-memory tiles (TILE = 16): a 16x16 block loads a 16x16 tile of A' and of B' into
    shared memory (one element per thread), waits at a barrier, and every thread runs its 16
    multiply-adds from shared memory. Each global element is now read once per tile instead of
    once per output: 16x less global traffic. Not measured yet.
v3  register blocking (the 2-D blocktiling of siboehm's SGEMM walk-through): a block of 16x16
    threads computes a 64x64 tile of C, each thread a 4x4 grid of outputs (rows ty + 16 r,
    columns tx + 16 q) held in registers. Per step of the K loop (BK = 16) the block stages a
    64x16 slice of A' and a 16x64 slice of B' in shared memory (four loads per thread each);
    each thread then reads 4 values of A' and 4 of B' per k and does 16 multiply-adds with them:
    4 flops per shared-memory load instead of v2's 1. Not measured yet.

Every version compiles once per dtype (its shared and local arrays need the dtype at compile
time): float32 accumulates in float32 as cuBLAS's sgemm does, float64 in float64.
"""
import numpy as np
from numba import cuda

from tinydl.kernels.cuda._launch import empty, on_device, per_dtype

TILE = 16                      # v1 block edge and v2 tile edge
BM = BN = 64                   # v3: C tile of one block
BK = 16                        # v3: K slice staged per step
TM = TN = 4                    # v3: outputs per thread along rows and columns
T3 = 16                        # v3: block edge in threads (BM // TM)


@cuda.jit(device=True)
def at(a, r, c, t):
    # element (r, c) of a, or of a^T when t
    return a[c, r] if t else a[r, c]


# ---- v1: one thread per output --------------------------------------------------------------
def _make_v1(DT):
    @cuda.jit
    def gemm_v1(a, b, ta, tb, bias, has_bias, c):
        j, i = cuda.grid(2)
        M, N = c.shape
        K = a.shape[0] if ta else a.shape[1]
        if i < M and j < N:
            acc = DT(0)
            for k in range(K):
                acc += at(a, i, k, ta) * at(b, k, j, tb)
            if has_bias:
                acc += bias[j]
            c[i, j] = acc
    return gemm_v1


# ---- v2: shared-memory tiles ----------------------------------------------------------------
def _make_v2(DT):
    @cuda.jit
    def gemm_v2(a, b, ta, tb, bias, has_bias, c):
        As = cuda.shared.array((TILE, TILE), DT)
        Bs = cuda.shared.array((TILE, TILE), DT)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        j = cuda.blockIdx.x * TILE + tx
        i = cuda.blockIdx.y * TILE + ty
        M, N = c.shape
        K = a.shape[0] if ta else a.shape[1]
        acc = DT(0)
        for k0 in range(0, K, TILE):
            # step 1: each thread stages one element of each tile (zeros past the edges)
            ka, kb = k0 + tx, k0 + ty
            As[ty, tx] = at(a, i, ka, ta) if i < M and ka < K else DT(0)
            Bs[ty, tx] = at(b, kb, j, tb) if kb < K and j < N else DT(0)
            cuda.syncthreads()
            # step 2: 16 multiply-adds out of shared memory
            for kk in range(TILE):
                acc += As[ty, kk] * Bs[kk, tx]
            cuda.syncthreads()          # before the next step overwrites the tiles
        if i < M and j < N:
            if has_bias:
                acc += bias[j]
            c[i, j] = acc
    return gemm_v2


# ---- v3: 2-D register blocking --------------------------------------------------------------
def _make_v3(DT):
    @cuda.jit
    def gemm_v3(a, b, ta, tb, bias, has_bias, c):
        As = cuda.shared.array((BK, BM), DT)     # A' slice stored k-major: As[k, row]
        Bs = cuda.shared.array((BK, BN), DT)
        acc = cuda.local.array((TM, TN), DT)
        ra = cuda.local.array(TM, DT)
        rb = cuda.local.array(TN, DT)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        tid = ty * T3 + tx
        i0 = cuda.blockIdx.y * BM
        j0 = cuda.blockIdx.x * BN
        M, N = c.shape
        K = a.shape[0] if ta else a.shape[1]
        for r in range(TM):
            for q in range(TN):
                acc[r, q] = DT(0)
        for k0 in range(0, K, BK):
            # step 1: stage A'[i0:i0+64, k0:k0+16] and B'[k0:k0+16, j0:j0+64], 4 + 4 loads a thread
            for l in range(BM * BK // (T3 * T3)):
                e = tid + l * T3 * T3
                row, kk = e // BK, e % BK
                gi, gk = i0 + row, k0 + kk
                As[kk, row] = at(a, gi, gk, ta) if gi < M and gk < K else DT(0)
            for l in range(BK * BN // (T3 * T3)):
                e = tid + l * T3 * T3
                kk, col = e // BN, e % BN
                gk, gj = k0 + kk, j0 + col
                Bs[kk, col] = at(b, gk, gj, tb) if gk < K and gj < N else DT(0)
            cuda.syncthreads()
            # step 2: per k, 4 + 4 values into registers, 16 multiply-adds
            for kk in range(BK):
                for r in range(TM):
                    ra[r] = As[kk, ty + r * T3]
                for q in range(TN):
                    rb[q] = Bs[kk, tx + q * T3]
                for r in range(TM):
                    for q in range(TN):
                        acc[r, q] += ra[r] * rb[q]
            cuda.syncthreads()
        # step 3: write the 4x4 outputs (neighbouring threads write neighbouring columns)
        for r in range(TM):
            i = i0 + ty + r * T3
            for q in range(TN):
                j = j0 + tx + q * T3
                if i < M and j < N:
                    v = acc[r, q]
                    if has_bias:
                        v += bias[j]
                    c[i, j] = v
    return gemm_v3


_KERNELS = {1: per_dtype(_make_v1), 2: per_dtype(_make_v2), 3: per_dtype(_make_v3)}
VERSIONS = (1, 2, 3)
_dummy = {}


def _no_bias(dtype):
    key = np.dtype(dtype)
    if key not in _dummy:
        _dummy[key] = empty((1,), key)
    return _dummy[key]


def gemm(a, b, ta=False, tb=False, bias=None, version=3):
    """C = A' @ B' (+ bias on every row) as a fresh device array; a, b 2-D, one float dtype."""
    a, b = on_device(a), on_device(b)
    M = a.shape[1] if ta else a.shape[0]
    N = b.shape[0] if tb else b.shape[1]
    c = empty((M, N), a.dtype)
    if M == 0 or N == 0:
        return c
    has_bias = bias is not None
    bias = on_device(bias) if has_bias else _no_bias(a.dtype)
    kernel = _KERNELS[version](a.dtype)
    if version == 3:
        grid, block = ((N + BN - 1) // BN, (M + BM - 1) // BM), (T3, T3)
    else:
        grid, block = ((N + TILE - 1) // TILE, (M + TILE - 1) // TILE), (TILE, TILE)
    kernel[grid, block](a, b, int(bool(ta)), int(bool(tb)), bias, int(has_bias), c)
    return c
