"""Compile every CUDA kernel the simulator tests launch to PTX, without a GPU.

Numba's simulator runs kernels as Python, so it never type-checks them the way the CUDA
compiler does: a kernel can pass every simulator test and still fail to compile on a GPU.
This script closes that gap on a machine with no GPU:

    pip install nvidia-cuda-nvcc-cu12          # NVVM and libdevice (no driver needed)
    CUDA_HOME=$(python -c "import nvidia.cuda_nvcc, os; print(os.path.dirname(nvidia.cuda_nvcc.__file__))") \\
        python tests/cuda/ptx_check.py

Step 1 runs `pytest -m cuda tests/cuda` under the simulator with this file as a plugin that
records each launch's kernel and argument types; step 2, in a fresh process without the
simulator, compiles every distinct (kernel, types) pair with numba.cuda.compile_ptx for
compute capability 8.0. Builtin max/min are swapped for two-line device functions in step 2:
their overload needs a live GPU to compile (Numba tests them on GPUs itself).
"""
import importlib
import os
import pickle
import subprocess
import sys
import tempfile

RECORD = os.environ.get("TINYDL_PTX_RECORD")


def _record_plugin():
    import atexit

    import numpy as np
    from numba import typeof, types
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
    from numba.cuda.simulator.kernel import FakeCUDAKernel

    seen = {}

    def ty(a):
        if isinstance(a, FakeCUDAArray):
            a = a._ary
        if isinstance(a, np.ndarray):
            return types.Array(typeof(a.dtype.type(0)), a.ndim, "C" if a.flags.c_contiguous else "A")
        return typeof(a)

    original = FakeCUDAKernel.__call__

    def call(self, *args):
        if not self._device and self.fn.__module__.startswith("tinydl.kernels.cuda"):
            seen[(self.fn.__module__, self.fn.__qualname__, tuple(ty(a) for a in args))] = True
        return original(self, *args)

    FakeCUDAKernel.__call__ = call
    atexit.register(lambda: pickle.dump(list(seen), open(RECORD, "wb")))


if RECORD and os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    _record_plugin()


def compile_all(path):
    import types as pytypes

    import numba.cuda.dispatcher as dispatcher
    import numpy as np
    from numba import cuda, types
    # device functions ask the current GPU for its compute capability: answer for it
    dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=(8, 0))

    @cuda.jit(device=True)
    def dmax(a, b):
        return a if a > b else b

    @cuda.jit(device=True)
    def dmin(a, b):
        return a if a < b else b

    import pkgutil

    import tinydl.kernels.cuda as package
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"tinydl.kernels.cuda.{info.name}")
        module.max, module.min = dmax, dmin
    launches = pickle.load(open(path, "rb"))
    failed = 0
    for mod, qual, argtys in launches:
        module = importlib.import_module(mod)
        if "<locals>" in qual:                       # a per-dtype factory kernel (_gemm.py)
            version = int(qual.split(".")[0][-1])
            dtype = next(t.dtype for t in argtys if isinstance(t, types.Array) and isinstance(t.dtype, types.Float))
            kernel = module._KERNELS[version](np.dtype(str(dtype)))
        else:
            kernel = getattr(module, qual)
        try:
            cuda.compile_ptx(kernel.py_func, argtys, cc=(8, 0))
        except Exception as e:                       # noqa: BLE001 - report every failure
            failed += 1
            print(f"FAIL {mod}.{qual}{argtys}\n    {str(e).strip().splitlines()[-1][:300]}")
    print(f"{len(launches) - failed} of {len(launches)} kernel launches compile to PTX")
    return 1 if failed else 0


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--compile":
        return compile_all(sys.argv[2])
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    with tempfile.TemporaryDirectory() as tmp:
        record = os.path.join(tmp, "launches.pkl")
        env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", TINYDL_PTX_RECORD=record,
                   PYTHONPATH=here + os.pathsep + os.environ.get("PYTHONPATH", ""))
        subprocess.run([sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "ptx_check",
                        "-p", "no:cacheprovider", os.path.join(root, "tests", "cuda")],
                       env=env, cwd=root, check=True)
        env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_ENABLE_CUDASIM", "TINYDL_PTX_RECORD")}
        return subprocess.run([sys.executable, __file__, "--compile", record], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
