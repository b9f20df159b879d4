"""How Numba's parallel kernels share the cores with BLAS and with other OpenMP users.

One pool. tinydl's matrix products run on Numba's threads, one single-threaded BLAS call per
thread (kernels/cpu/_blas.py), so SciPy's OpenBLAS brings no threads of its own (configure_blas)
and Numba's pool is the only one a step uses. Its workers then wait for the next kernel by
spinning briefly (GOMP_SPINCOUNT rounds) before they sleep: a small model's kernels follow each
other closely, and waking a sleeping thread costs tens of microseconds on a VM, many times per
step (small CNN step 10.8-13.4 -> 5.7-6.2 ms with the products split). Long spinning (libgomp's
default, 300,000 rounds) beside BLAS's own threads starved whatever ran next on a small machine:
measured 2-40x slower, docs/kernels.md "threads". So:

  - OpenMP not loaded yet: a short spin, GOMP_SPINCOUNT=SPIN_COUNT (read once, when OpenMP loads;
    an OMP_WAIT_POLICY or GOMP_SPINCOUNT the user set is kept);
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
import sys

SPIN_COUNT = "20000"   # libgomp's spin rounds before a worker sleeps (its default: 300,000)
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
    """Pick how parallel kernels wait; returns 'user', 'omp-spin' (a short spin), 'omp-passive'
    (the user chose OMP_WAIT_POLICY=PASSIVE), 'omp-passive-beside' (another library's OpenMP
    runtime is loaded, Numba's is a separate one) or 'workqueue'."""
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
    if "OMP_WAIT_POLICY" in os.environ:
        return "omp-passive" if os.environ["OMP_WAIT_POLICY"].upper() == "PASSIVE" else "user"
    _setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
    return "omp-spin"


def _scipy_blas_loaded() -> bool:
    return "scipy.linalg.cython_blas" in sys.modules


def _limit_loaded_scipy_blas() -> bool:
    """SciPy's OpenBLAS was loaded before tinydl: set it to one thread through its own function
    (Linux; SciPy's wheels name the library libscipy_openblas-<hash>.so, NumPy's is the 64_ one)."""
    import ctypes
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libscipy_openblas-" in line}
    except OSError:
        return False
    for path in sorted(paths):
        fn = getattr(ctypes.CDLL(path), "scipy_openblas_set_num_threads", None)
        if fn is not None:
            fn(1)
            return True
    return False


def configure_blas() -> str:
    """SciPy's OpenBLAS (the one tinydl's kernels call, kernels/cpu/_blas.py) runs one thread per
    call: tinydl splits the products over Numba's threads itself. OPENBLAS_NUM_THREADS=1 is set
    only while SciPy's BLAS loads here, so NumPy's OpenBLAS (loaded first) and child processes
    keep the user's setting; SciPy's linear algebra in this process is single-threaded from then
    on. OPENBLAS_THREAD_TIMEOUT=4: a BLAS worker, where the user asks for some, sleeps at once
    after a call instead of spinning ~2^28 cycles. Returns 'one-thread', 'user' (the user set
    OPENBLAS_NUM_THREADS), 'one-thread-after-load' (SciPy's BLAS was loaded before tinydl, e.g.
    by scikit-learn, and set to one thread through its own function) or 'unchanged' (loaded
    before and not an OpenBLAS tinydl knows: its threads nest under Numba's)."""
    import numpy  # noqa: F401  (NumPy's OpenBLAS reads the environment before the change below)
    _setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    if "OPENBLAS_NUM_THREADS" in os.environ:
        return "user"
    if _scipy_blas_loaded():
        return "one-thread-after-load" if _limit_loaded_scipy_blas() else "unchanged"
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        import scipy.linalg.cython_blas  # noqa: F401  (SciPy's OpenBLAS reads it now)
    finally:
        del os.environ["OPENBLAS_NUM_THREADS"]
    return "one-thread"
