"""tests/cuda: the CUDA kernels against the NumPy reference, on tiny shapes.

Without a GPU these run in Numba's simulator (NUMBA_ENABLE_CUDASIM=1 set before Numba is
imported), which runs every CUDA thread of a block as a Python thread and lets them meet at
cuda.syncthreads() by polling them. Two changes make it much cheaper, only under the simulator
and without changing what a kernel computes:

- A kernel that never reaches a barrier (no syncthreads in its code or in the device functions
  it calls) has its threads run one after another in the calling thread. CUDA promises no
  order between the threads of a block, so this is one of the schedules a GPU may pick; it
  saves creating a Python thread per CUDA thread (about 0.1 ms each).
- Python hands the interpreter between threads every 5 ms by default, so each simulated barrier
  costs milliseconds; a shorter switch interval makes them about ten times cheaper.

And two races of the simulator are fixed here (tests/cuda/test_simulator.py); the short switch
interval made both show up about once in a thousand tests:

- a device function's module has its `cuda` global swapped for the simulated module when a thread
  enters the function and swapped back when that thread leaves. With several threads of a block
  inside at once, the first one out put the real module back under the others ("module
  'numba.cuda' has no attribute 'syncthreads'"). Here the swap is counted: the module gets its
  real `cuda` back when the last thread leaves.
- cuda.shared.array looked up the block's array for that source line and created it if missing,
  with no lock: two threads could each create one, and a block reduction then read a buffer the
  other threads never wrote (a max of 1e195). Here the lookup and the creation hold a lock.
"""
import os
import sys
import threading
import types
from contextlib import contextmanager


def _count_the_module_swaps():
    from numba import cuda
    from numba.cuda.simulator import kernel as _sim

    lock = threading.Lock()
    inside = {}      # id(module globals) -> [threads inside, the real values to put back]

    @contextmanager
    def swapped_cuda_module(fn, fake_cuda_module):
        globs = fn.__globals__
        with lock:
            entry = inside.setdefault(id(globs), [0, None])
            if entry[0] == 0:
                entry[1] = {k: v for k, v in globs.items() if v is cuda}
                globs.update(dict.fromkeys(entry[1], fake_cuda_module))
            entry[0] += 1
        try:
            yield
        finally:
            with lock:
                entry[0] -= 1
                if entry[0] == 0:
                    globs.update(entry[1])
                    del inside[id(globs)]

    _sim.swapped_cuda_module = swapped_cuda_module


def _lock_the_shared_arrays():
    import numpy as np
    from numba.cuda.simulator import kernelapi as _api

    lock = threading.Lock()
    dynamic = _api.FakeCUDAShared.array

    def array(self, shape, dtype):
        if shape == 0:                      # dynamic shared memory: one buffer, nothing to create
            return dynamic(self, shape, dtype)
        if isinstance(dtype, _api.types.Type):
            dtype = _api.numpy_support.as_dtype(dtype)
        caller = sys._getframe(1)           # a block's array is named by its source line
        key = (caller.f_code.co_filename, caller.f_lineno)
        with lock:
            if key not in self._allocations:
                self._allocations[key] = np.empty(shape, dtype)
            return self._allocations[key]

    _api.FakeCUDAShared.array = array


def _speed_up_simulator():
    import numpy as np
    from numba.cuda.simulator import kernel as _sim
    from numba.cuda.simulator.kernelapi import Dim3

    _barrier_free = {}

    def _names(code):
        names = set(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                names |= _names(const)
        return names

    def _has_barrier(fn, seen=()):
        if fn in seen:
            return False
        names = _names(fn.__code__)
        if names & {"syncthreads", "syncthreads_count", "syncthreads_and", "syncthreads_or", "sync"}:
            return True
        for name in names:
            callee = fn.__globals__.get(name)
            if isinstance(callee, _sim.FakeCUDAKernel) and _has_barrier(callee.fn, seen + (fn,)):
                return True
        return False

    _original_run = _sim.BlockManager.run

    def _run(self, grid_point, *args):
        fn = self._f
        if fn not in _barrier_free:
            _barrier_free[fn] = not _has_barrier(fn)
        if not _barrier_free[fn]:
            return _original_run(self, grid_point, *args)
        me = threading.current_thread()
        saved = {k: me.__dict__[k] for k in ("threadIdx", "blockIdx", "thread_id") if k in me.__dict__}
        me.blockIdx = Dim3(*grid_point)
        bx, by, _ = self._block_dim
        try:
            for point in np.ndindex(*self._block_dim):
                me.threadIdx = Dim3(*point)
                me.thread_id = point[0] + bx * (point[1] + by * point[2])
                try:
                    fn(*args)
                except Exception as e:
                    raise type(e)(f"tid={list(point)} ctaid={list(grid_point)}: {e}") from e
        finally:
            for k in ("threadIdx", "blockIdx", "thread_id"):
                me.__dict__.pop(k, None)
            me.__dict__.update(saved)

    _sim.BlockManager.run = _run


if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    sys.setswitchinterval(1e-4)
    try:
        _count_the_module_swaps()
        _lock_the_shared_arrays()
        _speed_up_simulator()
    except ImportError:      # a numba(-cuda) whose simulator lives elsewhere: run it as it is
        pass
