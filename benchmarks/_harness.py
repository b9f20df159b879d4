"""Side by side in one run, each framework in its own process.

PyTorch and Numba both run OpenMP thread pools. In one process they share (or fight over) one
runtime and its wait policy: PyTorch's spinning workers slowed tinydl's next kernel up to 10x, and
tinydl's passive waiting slowed PyTorch by 10-70%. So each framework is timed in a child process
with its own defaults, the children alternate (A, B, A, B, ...) so that load from other processes
falls on both alike, and the best of all rounds is kept.

Thread counts are read from numba.config.NUMBA_NUM_THREADS, never numba.get_num_threads(): the
latter starts Numba's OpenMP pool, with spinning workers, before tinydl is imported and can
choose how it waits (tinydl/_threads.py); that alone made the CNN step 320 ms instead of 222 ms.

A benchmark script calls ``side_by_side(__file__, ["tinydl", "torch"], args)`` in the parent and,
when run as ``script --child NAME``, measures NAME and prints one JSON line (``report``).
"""
import json
import os
import statistics
import subprocess
import sys
import time


def best_of(fn, repeats, warmup=2):
    """Best wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls (compile included there)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def median_of(fn, repeat, warmup=2, clock=time.perf_counter):
    """Median time of ``repeat`` calls of ``fn()`` after ``warmup`` calls (compile included there).
    ``clock``: time.perf_counter (wall) or time.process_time (this process's CPU time: with one
    thread, barely moved by other processes on a loaded machine)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = clock()
        fn()
        times.append(clock() - t)
    return statistics.median(times)


OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def openblas_unset_environment(env=None) -> dict:
    """``env`` (default os.environ) without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which force an
    old OpenBLAS kernel on some machines (PyTorch does not use OpenBLAS)."""
    return {k: v for k, v in (os.environ if env is None else env).items() if k not in OPENBLAS_VARS}


def openblas_cores() -> str:
    """The kernel ("core") each loaded OpenBLAS runs, e.g. "numpy Haswell, scipy Haswell": through
    threadpoolctl when it is installed, else by asking each mapped OpenBLAS library directly."""
    try:
        import threadpoolctl
        return ", ".join(f"{os.path.basename(i['filepath']).split('_')[0].split('-')[0]} {i.get('architecture')}"
                         for i in threadpoolctl.threadpool_info() if i.get("internal_api") == "openblas")
    except ImportError:
        pass
    import ctypes
    found = []
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if "openblas" in line and ".so" in line})
    for path in paths:
        lib = ctypes.CDLL(path)
        for symbol in ("openblas_get_corename", "scipy_openblas_get_corename", "scipy_openblas_get_corename64_"):
            fn = getattr(lib, symbol, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                found.append(f"{os.path.basename(path).split('.')[0]} {fn().decode()}")
                break
    return ", ".join(found) or "no OpenBLAS loaded"


def report(results: dict):
    """Called in a child: hand ``{name: seconds or value}`` to the parent."""
    print("RESULT " + json.dumps(results), flush=True)


def side_by_side(script, children, argv=(), rounds=3):
    """Run ``script --child NAME argv`` for each name, ``rounds`` times alternating; return
    ``{name: {metric: best value}}`` (minimum over rounds)."""
    best = {}
    for _ in range(rounds):
        for name in children:
            out = subprocess.run([sys.executable, script, "--child", name, *argv], capture_output=True,
                                 text=True, env=dict(os.environ))
            if out.returncode != 0:
                raise RuntimeError(f"child {name} failed:\n{out.stderr[-2000:]}")
            line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
            for metric, value in json.loads(line[7:]).items():
                slot = best.setdefault(name, {})
                slot[metric] = min(value, slot.get(metric, float("inf")))
    return best


def environment_line():
    import numba
    keys = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_WAIT_POLICY", "NUMBA_THREADING_LAYER")
    env = ", ".join(f"{k}={os.environ[k]}" for k in keys if k in os.environ) or "none of OPENBLAS_*/OMP_*/NUMBA_* set"
    return f"{numba.config.NUMBA_NUM_THREADS} threads; {env}; load average {os.getloadavg()[0]:.1f}"
