"""How Numba's parallel kernels share the cores with BLAS and with other OpenMP users.

Numba's default threading layer here is OpenMP (libgomp). By default its workers spin on their
cores after every parallel region; on a small machine that starves the BLAS call (or the other
framework) that runs next: measured 2-40x slower, docs/kernels.md "threads". Two fixes:

  - OpenMP not loaded yet: choose passive waiting, OMP_WAIT_POLICY=PASSIVE (read once, when
    OpenMP loads; a value the user set is kept);
  - OpenMP already loaded by another library (PyTorch imported before tinydl brings its own
    libgomp, already initialised with spinning workers): use Numba's own 'workqueue' layer.

A NUMBA_THREADING_LAYER chosen by the user is always kept.
"""
import os

ADDED: dict[str, str] = {}  # the variables tinydl set (not the user): child processes may drop them


def _setdefault(key, value):
    if key not in os.environ:
        os.environ[key] = ADDED[key] = value


def user_environment() -> dict:
    """os.environ without the variables tinydl added, e.g. for a PyTorch child process."""
    return {k: v for k, v in os.environ.items() if k not in ADDED}


def openmp_loaded() -> bool:
    """True when an OpenMP runtime is already mapped into this process (Linux; else False)."""
    try:
        with open("/proc/self/maps") as maps:
            return any("libgomp" in line or "libiomp" in line for line in maps)
    except OSError:
        return False


def configure() -> str:
    """Pick how parallel kernels wait; returns 'user', 'omp-passive' or 'workqueue'."""
    if os.environ.get("NUMBA_THREADING_LAYER"):
        return "user"
    if openmp_loaded() and os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        import numba
        numba.config.THREADING_LAYER = "workqueue"
        return "workqueue"
    _setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return "omp-passive"


def configure_blas() -> None:
    """OpenBLAS workers sleep at once after a call instead of spinning ~2^28 cycles. Read when an
    OpenBLAS loads: NumPy's is usually loaded already, SciPy's (the one tinydl's kernels call,
    kernels/cpu/_blas.py) not yet. A value the user set is kept."""
    _setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
