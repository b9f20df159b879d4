"""Dense on the CPU (Numba): the lesson plan.

    y = x @ w + b     x (N, ..., in) is viewed as rows x2 (M, in) with M = N * ..., w (in, units)

Measured by benchmarks/bench_dense.py: forward + backward at x (256, 784), w (784, 512), float32,
2 threads, best of 60, OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset, OMP_WAIT_POLICY=PASSIVE, on the
2-core CI machine while other jobs loaded it (load average 10-20, so read ratios, not digits).
PyTorch 2.13 CPU in the same run: 3.2-3.8 ms.

v1  naive triple loop, rows in parallel (prange over m): out[m, u] = b[u] + sum_k x[m, k] w[k, u].
    The inner loop walks a COLUMN of w, a stride of `units` elements per step, so every
    multiply-add waits on memory and nothing vectorizes. Backward: dx the same way over w's
    rows (contiguous, better), dw = x2^T dout with a stride-`in` walk down x's columns.
    Measured: 670-1020 ms, about 200x PyTorch. Kept as the baseline the others are read against.
v2  BLAS: each matrix product one sgemm/dgemm per Numba thread on a block of the output
    (kernels/cpu/_blas.py: SciPy's BLAS, one thread per call, on the pool every kernel uses), with
    the bias add / bias-gradient column sums in the same compiled function right after it, serial
    (a few microseconds of work). Measured before the one-pool change (np.dot, BLAS's own
    threads): 1.75 ms, 0.46-0.55x PyTorch's time (NumPy's `@` on the same products: 1.66 ms).
    With OPENBLAS_CORETYPE=Haswell set: 2.9 ms (PyTorch 5.8 ms). The MLP's training step with
    the products on Numba's threads: 6.1 -> 3.5 ms (docs/kernels.md, "one pool").
v3  the same three GEMMs through NumPy's `@` on 2-D views (NumPy's own OpenBLAS), the bias add
    and the column sums in small parallel (prange) Numba kernels. Measured: 1.70 ms with
    OMP_WAIT_POLICY=PASSIVE, but 76 ms with OMP_WAIT_POLICY=active and 19-59 ms with the
    default: after each prange region Numba's OpenMP worker keeps spinning on its core, and the
    next OpenBLAS call then shares the 2 cores with it. A lesson in thread pools, not in
    arithmetic: on few cores, do not put a parallel region right next to a BLAS call.

DEFAULT = 2: as fast as v3 at its best, and immune to the spinning workers.

PARAMS_ONLY: v2's backward without the dx GEMM, for a layer whose input needs no gradient (the
first layer of a model in a training step: tinydl/tape.py, input_grad_needed).
"""
import numpy as np
from numba import njit, prange

from tinydl.kernels._versions import active
from tinydl.kernels.cpu._blas import gemm
from tinydl.kernels.cpu.elementwise import colsum


# ---- v1: the naive loops ----------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _forward_naive(x, w, b):
    # x (M, K), w (K, U), b (U,) -> out (M, U)
    m_rows, k_in = x.shape
    units = w.shape[1]
    out = np.empty((m_rows, units), dtype=x.dtype)
    for m in prange(m_rows):
        for u in range(units):
            acc = b[u]
            for k in range(k_in):
                acc += x[m, k] * w[k, u]
            out[m, u] = acc
    return out


@njit(parallel=True, cache=True)
def _backward_naive(x, w, dout):
    # x (M, K), w (K, U), dout (M, U) -> dx (M, K), dw (K, U)
    m_rows, k_in = x.shape
    units = w.shape[1]
    dx = np.empty((m_rows, k_in), dtype=x.dtype)
    for m in prange(m_rows):                 # dx[m, k] = sum_u dout[m, u] w[k, u]
        for k in range(k_in):
            acc = x.dtype.type(0)
            for u in range(units):
                acc += dout[m, u] * w[k, u]
            dx[m, k] = acc
    dw = np.empty((k_in, units), dtype=x.dtype)
    for k in prange(k_in):                   # dw[k, u] = sum_m x[m, k] dout[m, u]
        for u in range(units):
            acc = x.dtype.type(0)
            for m in range(m_rows):
                acc += x[m, k] * dout[m, u]
            dw[k, u] = acc
    return dx, dw


def dense_forward_v1(x, w, b):
    x2 = x.reshape(-1, w.shape[0])
    bias = b if b is not None else np.zeros(w.shape[1], dtype=x.dtype)
    out = _forward_naive(x2, w, bias)
    return out.reshape(x.shape[:-1] + (w.shape[1],)), (x, w, b is not None)


def dense_backward_v1(dout, cache):
    x, w, has_bias = cache
    d2 = dout.reshape(-1, w.shape[1])
    dx, dw = _backward_naive(x.reshape(-1, w.shape[0]), w, d2)
    db = colsum(d2) if has_bias else None
    return dx.reshape(x.shape), dw, db


# ---- v2: BLAS on Numba's threads (kernels/cpu/_blas.py), bias fused after it -----------------
@njit(cache=True)
def _forward_blas(x, w, b):
    # x (M, K), w (K, U), b (U,) -> out (M, U): one GEMM, then the bias in the same function
    out = gemm(x, w)
    m_rows, units = out.shape
    for m in range(m_rows):
        for u in range(units):
            out[m, u] += b[u]
    return out


@njit(cache=True)
def _forward_blas_nobias(x, w):
    return gemm(x, w)


@njit(cache=True)
def _backward_blas(x, w, dout):
    # dx = dout w^T (M, K), dw = x^T dout (K, U): two GEMMs on transposed views (no copies)
    dx = gemm(dout, w.T)
    dw = gemm(x.T, dout)
    return dx, dw


@njit(cache=True)
def _params_blas(x, dout, has_bias):
    # dw = x^T dout (K, U), db = column sums of dout in float64 (zeros without a bias): no dx GEMM
    dw = gemm(x.T, dout)
    m_rows, units = dout.shape
    acc = np.zeros(units, dtype=np.float64)
    if has_bias:
        for m in range(m_rows):
            for u in range(units):
                acc[u] += dout[m, u]
    return dw, acc.astype(dout.dtype)


@njit(cache=True)
def _backward_blas_bias(x, w, dout):
    dx = gemm(dout, w.T)
    dw, db = _params_blas(x, dout, True)
    return dx, dw, db


def dense_forward_v2(x, w, b):
    x2 = x.reshape(-1, w.shape[0])
    out = _forward_blas(x2, w, b) if b is not None else _forward_blas_nobias(x2, w)
    return out.reshape(x.shape[:-1] + (w.shape[1],)), (x, w, b is not None)


def dense_backward_v2(dout, cache):
    x, w, has_bias = cache
    x2, d2 = x.reshape(-1, w.shape[0]), dout.reshape(-1, w.shape[1])
    if has_bias:
        dx, dw, db = _backward_blas_bias(x2, w, d2)
    else:
        (dx, dw), db = _backward_blas(x2, w, d2), None
    return dx.reshape(x.shape), dw, db


def dense_backward_params_v2(dout, cache):
    """dw, db only (the input needs no gradient): the dx GEMM skipped."""
    x, w, has_bias = cache
    dw, db = _params_blas(x.reshape(-1, w.shape[0]), dout.reshape(-1, w.shape[1]), has_bias)
    return dw, (db if has_bias else None)


# ---- v3: NumPy's `@` on 2-D views, bias add and column sums in parallel Numba ---------------
@njit(parallel=True, cache=True)
def _add_bias_rows(out, b):
    # out (M, U) += b (U,) on every row
    m_rows, units = out.shape
    for m in prange(m_rows):
        for u in range(units):
            out[m, u] += b[u]


def dense_forward_v3(x, w, b):
    x2 = x.reshape(-1, w.shape[0])
    out = x2 @ w
    if b is not None:
        _add_bias_rows(out, b)
    return out.reshape(x.shape[:-1] + (w.shape[1],)), (x, w, b is not None)


def dense_backward_v3(dout, cache):
    x, w, has_bias = cache
    x2, d2 = x.reshape(-1, w.shape[0]), dout.reshape(-1, w.shape[1])
    dx = d2 @ w.T
    dw = x2.T @ d2
    db = colsum(d2) if has_bias else None
    return dx.reshape(x.shape), dw, db


# ---- dispatch ---------------------------------------------------------------------------------
VERSIONS = {
    1: {"dense_forward": dense_forward_v1, "dense_backward": dense_backward_v1},
    2: {"dense_forward": dense_forward_v2, "dense_backward": dense_backward_v2},
    3: {"dense_forward": dense_forward_v3, "dense_backward": dense_backward_v3},
}
PARAMS_ONLY = {2: dense_backward_params_v2}   # dw, db without the dx GEMM (see conv2d.PARAMS_ONLY)
DEFAULT = 2   # the fastest correct version, and no parallel region next to BLAS (see above)


def dense_forward(x, w, b):
    # x (N, ..., in), w (in, units), b (units,) or None -> out (N, ..., units), cache
    return VERSIONS[active("cpu.dense", DEFAULT)]["dense_forward"](x, w, b)


def dense_backward(dout, cache):
    # dout (N, ..., units) -> dx (N, ..., in), dw (in, units), db (units,) or None
    return VERSIONS[active("cpu.dense", DEFAULT)]["dense_backward"](dout, cache)
