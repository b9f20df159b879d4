"""Matrix products for the CPU kernels: SciPy's sgemm/dgemm, one thread each, on Numba's threads.

One pool, not two. A step alternates our parallel kernels with matrix products. If BLAS brings
its own threads, the two pools take turns on the cores, and each hand-over wakes sleeping
threads (tens of microseconds on a VM, many times per step) or, if the pool that just finished
keeps spinning, starves the other. So tinydl runs SciPy's OpenBLAS single-threaded
(OPENBLAS_NUM_THREADS=1, set before it loads: tinydl/_threads.py) and splits each product over
Numba's own threads here, the same threads every other kernel uses; they spin briefly between
kernels instead of going to sleep. Measured on the MLP's step: 6.1 -> 3.5 ms (docs/kernels.md,
"one pool").

    gemm_block(a, b, out, beta)  out = a @ b + beta * out, one BLAS call in the calling thread
    gemm_into(a, b, out)         out = a @ b, out's rows (or columns) split over the threads
    gemm(a, b)                   a @ b as a new C-contiguous array
    bmm_into(a, b, out)          out[i] = a[i] @ b[i] for a batch, the matrices split over the threads

Operands are any 2-D views whose rows or columns are contiguous (a transposed view, a block of
rows or columns): BLAS takes a leading dimension and a transpose flag, so nothing is copied.
``out`` must have contiguous rows. Inside a prange body call gemm_block, never gemm_into (no
nested parallel regions).

The call goes through ``numba_xxgemm``, the C helper Numba's own ``np.dot`` uses (it finds
SciPy's cython_blas function once), declared as an external function so the kernels that call it
stay in Numba's on-disk cache. The first call of each precision resolves the BLAS pointer under
the GIL, so this module makes both first calls when it loads (end of the file).
"""
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.ufunc.parallel import _launch_threads

# Numba's thread pool registers its C functions (get_num_threads among them) with the linker
# when it starts; a kernel loaded from the on-disk cache links against them at once, so start it
# now rather than at the first parallel region
_launch_threads()

SPLIT_FROM = 1 << 18   # multiply-adds below which a product runs in one thread (a wake-up costs more)

_XXGEMM = types.ExternalFunction("numba_xxgemm", types.intc(
    types.char,                                  # kind: 's' float32, 'd' float64
    types.char, types.char,                      # transa, transb: 'n' or 't'
    types.intp, types.intp, types.intp,          # m, n, k (column-major)
    types.voidptr, types.voidptr, types.intp,    # alpha, a, lda
    types.voidptr, types.intp,                   # b, ldb
    types.voidptr, types.voidptr, types.intp))   # beta, c, ldc


@intrinsic
def num_threads(typingctx):
    """numba.get_num_threads() for compiled code that stays cacheable: Numba's own version calls
    the threading layer through a ctypes pointer, which keeps its caller out of the cache; this
    calls the same C function by its symbol name (registered by _launch_threads above)."""

    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(cgutils.intp_t, []),
                                            "get_num_threads")
        return builder.call(fn, [])
    return types.intp(), codegen


@njit(cache=True)
def _operand(a):
    # a 2-D view as BLAS sees it: (flag, leading dimension) with rows contiguous -> 'n', columns
    # contiguous -> 't' (in BLAS's column-major terms a row-major matrix is its own transpose)
    rows, cols = a.shape
    s0, s1 = a.strides[0] // a.itemsize, a.strides[1] // a.itemsize
    if (s1 == 1 or cols == 1) and (rows == 1 or s0 >= max(cols, 1)):
        return ord("n"), s0 if rows > 1 else max(cols, 1)
    if (s0 == 1 or rows == 1) and (cols == 1 or s1 >= max(rows, 1)):
        return ord("t"), s1 if cols > 1 else max(rows, 1)
    return 0, 0   # neither: the caller copies


@njit(cache=True)
def gemm_block(a, b, out, beta):
    """out = a @ b + beta * out. a (M, K), b (K, N), out (M, N) with contiguous rows; one BLAS call.
    Row-major C = A B is column-major C^T = B^T A^T, so BLAS gets b first."""
    m, k = a.shape
    n = b.shape[1]
    if a.itemsize != out.itemsize or b.itemsize != out.itemsize:
        raise ValueError("gemm_block: a, b and out must have one dtype (float32 or float64)")
    if m == 0 or n == 0:
        return
    if k == 0:                                   # an empty sum: BLAS may not be called
        for i in range(m):                       # (a loop: an array expression here took
            for j in range(n):                   # 2.6 s to compile, once per layout)
                out[i, j] = beta * out[i, j]
        return
    ta, lda = _operand(a)
    if ta == 0:
        a = np.ascontiguousarray(a)
        ta, lda = _operand(a)
    tb, ldb = _operand(b)
    if tb == 0:
        b = np.ascontiguousarray(b)
        tb, ldb = _operand(b)
    tc, ldc = _operand(out)
    if tc != ord("n"):
        raise ValueError("gemm_block: out must have contiguous rows")
    one, bet = np.ones(1, out.dtype), np.full(1, beta, out.dtype)
    kind = ord("s") if out.itemsize == 4 else ord("d")
    _XXGEMM(kind, tb, ta, n, m, k, one.ctypes, b.ctypes, ldb, a.ctypes, lda, bet.ctypes,
            out.ctypes, ldc)


@njit(cache=True)
def _any(x):
    # the same 2-D view typed as layout 'A': every caller's layout (C, F or a block) then shares
    # one compiled copy of the functions below, which take strides from the array anyway
    return x[0:x.shape[0], 0:x.shape[1]]


@njit(cache=True, parallel=True)
def _split_rows(a, b, out, parts):
    m = out.shape[0]
    for p in prange(parts):
        r0, r1 = p * m // parts, (p + 1) * m // parts
        gemm_block(a[r0:r1], b, out[r0:r1], 0.0)


@njit(cache=True, parallel=True)
def _split_cols(a, b, out, parts):
    n = out.shape[1]
    for p in prange(parts):
        c0, c1 = p * n // parts, (p + 1) * n // parts
        gemm_block(a, b[:, c0:c1], out[:, c0:c1], 0.0)


@njit(cache=True)
def gemm_into(a, b, out):
    """out = a @ b. a (M, K), b (K, N), out (M, N) with contiguous rows. The longer side of out is
    cut into one block per thread; a product under SPLIT_FROM multiply-adds runs in this thread."""
    m, k = a.shape
    n = b.shape[1]
    a, b, out = _any(a), _any(b), _any(out)
    parts = num_threads()
    if parts < 2 or m * n * k < SPLIT_FROM or max(m, n) < 2 * parts:
        gemm_block(a, b, out, 0.0)
        return
    if m >= n:
        _split_rows(a, b, out, parts)
    else:
        _split_cols(a, b, out, parts)


@njit(cache=True)
def gemm(a, b):
    """a @ b as a new C-contiguous array of a's dtype."""
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    gemm_into(a, b, out)
    return out


@njit(cache=True, parallel=True)
def _bmm_split(a, b, out):
    for i in prange(a.shape[0]):
        gemm_block(a[i], b[i], out[i], 0.0)


@njit(cache=True)
def bmm_into(a, b, out):
    """out[i] = a[i] @ b[i]. a (B, M, K), b (B, K, N), out (B, M, N) with contiguous rows: each
    thread takes whole matrices (the small per-head products of attention)."""
    bsz, m, k = a.shape
    n = b.shape[2]
    a, b, out = a[0:bsz, 0:m, 0:k], b[0:bsz, 0:k, 0:n], out[0:bsz, 0:m, 0:n]   # layout 'A' (_any)
    if num_threads() < 2 or bsz * m * n * k < SPLIT_FROM:
        for i in range(bsz):
            gemm_block(a[i], b[i], out[i], 0.0)
        return
    _bmm_split(a, b, out)


@njit(cache=True)
def bmm(a, b):
    """a @ b over a batch of matrices, as a new C-contiguous (B, M, N) array."""
    out = np.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=a.dtype)
    bmm_into(a, b, out)
    return out


# numba_xxgemm finds SciPy's sgemm and dgemm on the first call of each, under the GIL, which a
# worker thread cannot take while the calling thread waits at a parallel region's end: make
# both first calls here, in the importing thread, before any kernel splits a product
for _dtype in (np.float32, np.float64):
    _one = np.ones((1, 1), _dtype)
    gemm_block(_any(_one), _any(_one), _any(np.empty((1, 1), _dtype)), 0.0)
