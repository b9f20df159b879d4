"""Matrix products for the CPU kernels: SciPy's BLAS sgemm/dgemm, called from inside Numba.

Why not NumPy's ``@``? Both NumPy and SciPy ship an OpenBLAS, and an OpenBLAS worker thread
spins for about 2^28 cycles after each call before it sleeps. On a 2-core machine that spinning
thread takes the core the next Numba kernel needs: the reference CNN's step took 0.93 s instead
of 0.40 s. The spin is set by OPENBLAS_THREAD_TIMEOUT, read once when an OpenBLAS loads. NumPy's
is usually loaded before tinydl (``import numpy`` comes first), but SciPy's BLAS is loaded by
Numba after tinydl has chosen a short timeout (tinydl/_threads.py). So every large product in
tinydl goes through here: ``np.dot`` inside ``@njit`` is SciPy's BLAS.

Operands may be C- or F-contiguous (a transposed view is F-contiguous): BLAS takes transposes
for free.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def gemm_into(a, b, out):
    """out = a @ b. a (M, K), b (K, N), out (M, N) C-contiguous."""
    np.dot(a, b, out)


@njit(cache=True)
def gemm(a, b):
    """a @ b as a new C-contiguous array."""
    return np.dot(a, b)
