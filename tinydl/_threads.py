"""How Numba's parallel kernels share the cores with BLAS and with other OpenMP users.

Numba's default threading layer here is OpenMP (libgomp). By default its workers spin on their
cores after every parallel region; on a small machine that starves the BLAS call (or the other
framework) that runs next: measured 2-40x slower, docs/kernels.md "threads". Two fixes:

  - OpenMP not loaded yet: choose passive waiting, OMP_WAIT_POLICY=PASSIVE (read once, when
    OpenMP loads; a value the user set is kept);
  - another library loaded an OpenMP runtime first. PyTorch's wheels bring their own copy
    (torch/lib/libgomp.so.1), initialised with spinning workers, but Numba's omp layer loads the
    system's libgomp beside it, a second runtime that still reads OMP_WAIT_POLICY: then omp
    with passive waiting as above ('omp-passive-beside'). Only when Numba's libgomp is itself the
    runtime already loaded (it would inherit that library's spinning workers) use Numba's own
    'workqueue' layer. Measured in one process after PyTorch's steps: the small CNN 41-72 ms on
    workqueue, 31-43 ms on its own passive libgomp (docs/kernels.md, "threads").

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


def _openmp_files() -> set:
    """The OpenMP runtime files mapped into this process (Linux; else empty)."""
    try:
        with open("/proc/self/maps") as maps:
            return {line.split()[-1] for line in maps if "libgomp" in line or "libiomp" in line}
    except OSError:
        return set()


def openmp_loaded() -> bool:
    """True when an OpenMP runtime is already mapped into this process (Linux; else False)."""
    return bool(_openmp_files())


def _numba_gets_its_own_openmp() -> bool:
    """Load Numba's omp layer (its extension links libgomp.so.1.0.0 by that file name), with
    OMP_WAIT_POLICY already chosen; True when that mapped a new OpenMP file, i.e. Numba's runtime
    is not the one another library loaded and initialised before."""
    before = _openmp_files()
    try:
        import numba.np.ufunc.omppool  # noqa: F401  (maps its libgomp; starts no thread)
    except ImportError:
        return False
    return bool(_openmp_files() - before)


def configure() -> str:
    """Pick how parallel kernels wait; returns 'user', 'omp-passive', 'omp-passive-beside'
    (another library's OpenMP runtime is loaded, Numba's is a separate one) or 'workqueue'."""
    if os.environ.get("NUMBA_THREADING_LAYER"):
        return "user"
    if openmp_loaded() and os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        if "OMP_WAIT_POLICY" not in os.environ:
            _setdefault("OMP_WAIT_POLICY", "PASSIVE")
            if _numba_gets_its_own_openmp():
                return "omp-passive-beside"
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
