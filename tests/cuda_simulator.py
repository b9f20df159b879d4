"""Numba's CUDA simulator, made cheaper and without its races: tests/conftest.py installs this
for every test when NUMBA_ENABLE_CUDASIM=1 (tests/cuda and the cuda cases of tests/ops alike).

Without a GPU the CUDA kernels run in Numba's simulator (NUMBA_ENABLE_CUDASIM=1 set before Numba is
imported), which runs every CUDA thread of a block as a Python thread and lets them meet at
cuda.syncthreads() by polling them. Two changes make it much cheaper, only under the simulator
and without changing what a kernel computes:

- A kernel that never reaches a barrier (no syncthreads in its code or in the device functions
  it calls) has its threads run one after another in the calling thread. CUDA promises no
  order between the threads of a block, so this is one of the schedules a GPU may pick; it
  saves creating a Python thread per CUDA thread (about 0.1 ms each).
- A kernel with barriers has its threads run as greenlets of the calling thread (when the
  greenlet package is there: the test extra installs it): each runs until its next
  cuda.syncthreads() or its end, then the next one; when every live thread has arrived, the next
  round starts. That is again a schedule a GPU may pick, and it saves an operating-system
  thread per CUDA thread and the simulator's polling loop (a third of the step's time, most of
  it in the kernel's system calls).

And two races of the simulator's own threads are fixed here, for a run without greenlet
(tests/cuda/test_simulator.py); each showed up about once in a thousand tests:

- a device function's module has its `cuda` global swapped for the simulated module when a thread
  enters the function and swapped back when that thread leaves. With several threads of a block
  inside at once, the first one out put the real module back under the others ("module
  'numba.cuda' has no attribute 'syncthreads'"). Here the swap is counted: the module gets its
  real `cuda` back when the last thread leaves.
- cuda.shared.array looked up the block's array for that source line and created it if missing,
  with no lock: two threads could each create one, and a block reduction then read a buffer the
  other threads never wrote (a max of 1e195). Here the lookup and the creation hold a lock.
"""
import sys
import threading
import types
from contextlib import contextmanager


def _count_the_module_swaps():
    from numba import cuda
    from numba.cuda.simulator import kernel as _sim

    lock = threading.Lock()
    inside = {}      # id(module globals) -> [threads inside, the real values to put back]

    def enter(globs, fake_cuda_module):
        with lock:
            entry = inside.setdefault(id(globs), [0, None])
            if entry[0] == 0:
                entry[1] = {k: v for k, v in globs.items() if v is cuda}
                globs.update(dict.fromkeys(entry[1], fake_cuda_module))
            entry[0] += 1

    def leave(globs):
        with lock:
            entry = inside[id(globs)]
            entry[0] -= 1
            if entry[0] == 0:
                globs.update(entry[1])
                del inside[id(globs)]

    @contextmanager
    def swapped_cuda_module(fn, fake_cuda_module):
        enter(fn.__globals__, fake_cuda_module)
        try:
            yield
        finally:
            leave(fn.__globals__)

    launch = _sim.FakeCUDAKernel.__call__

    def call(self, *args):
        # a device function called from a kernel: the same swap, without a context manager
        # (a kernel makes hundreds of thousands of these calls)
        if not self._device:
            return launch(self, *args)
        globs = self.fn.__globals__
        enter(globs, _sim._get_kernel_context())
        try:
            return self.fn(*args)
        finally:
            leave(globs)

    _sim.swapped_cuda_module = swapped_cuda_module
    _sim.FakeCUDAKernel.__call__ = call


def _look_attributes_up_directly():
    """An array inside a simulated kernel answered x.shape by listing every attribute of the
    NumPy array (dir) on each access: a third of a small convolution's time."""
    from numba.cuda.simulator.cudadrv import devicearray as _arrays

    wrap = _arrays.FakeWithinKernelCUDAArray._FakeWithinKernelCUDAArray__wrap_if_fake

    def __getattr__(self, attrname):
        ary = self._item._ary
        try:
            if hasattr(ary, attrname):
                return wrap(self, getattr(ary, attrname))
            return wrap(self, self._item.__getitem__(attrname))
        except Exception as e:
            if not isinstance(e, AttributeError):
                raise AttributeError(attrname) from e

    _arrays.FakeWithinKernelCUDAArray.__getattr__ = __getattr__


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


_THREAD_ATTRIBUTES = ("threadIdx", "blockIdx", "thread_id", "_manager", "syncthreads",
                      "syncthreads_count", "syncthreads_and", "syncthreads_or")


@contextmanager
def _posing_as_the_block(manager, grid_point):
    """The calling thread stands in for each CUDA thread of one block in turn: it gets the
    attributes the simulated cuda module asks of "the current thread" (kernelapi.FakeCUDAModule),
    and its own back afterwards."""
    from numba.cuda.simulator.kernelapi import Dim3

    me = threading.current_thread()
    saved = {k: me.__dict__[k] for k in _THREAD_ATTRIBUTES if k in me.__dict__}
    me.blockIdx, me._manager = Dim3(*grid_point), manager
    bx, by, _ = manager._block_dim

    def as_thread(point, run):
        # run() as CUDA thread `point` of the block, its error named by thread and block
        me.threadIdx = Dim3(*point)
        me.thread_id = point[0] + bx * (point[1] + by * point[2])
        try:
            run()
        except Exception as e:
            raise type(e)(f"tid={list(point)} ctaid={list(grid_point)}: {e}") from e

    try:
        yield me, as_thread
    finally:
        for k in _THREAD_ATTRIBUTES:
            me.__dict__.pop(k, None)
        me.__dict__.update(saved)


def _run_one_after_another(manager, grid_point, *args):
    """One block of a barrier-free kernel: its threads one after another, here."""
    import numpy as np

    with _posing_as_the_block(manager, grid_point) as (_, as_thread):
        for point in np.ndindex(*manager._block_dim):
            as_thread(point, lambda: manager._f(*args))


def _run_as_greenlets(manager, greenlet, grid_point, *args):
    """One block, each CUDA thread a greenlet: round after round, every live thread runs to its
    next cuda.syncthreads() (which switches back here) or to its end."""
    import numpy as np
    from numba.cuda.simulator import kernel as _sim

    here = greenlet.getcurrent()
    with _posing_as_the_block(manager, grid_point) as (me, as_thread):
        me.syncthreads = here.switch
        for name in ("syncthreads_count", "syncthreads_and", "syncthreads_or"):
            setattr(me, name, types.MethodType(getattr(_sim.BlockThread, name), me))
        threads = {point: greenlet.greenlet(lambda: manager._f(*args), parent=here)
                   for point in np.ndindex(*manager._block_dim)}
        while threads:
            for point in list(threads):
                as_thread(point, threads[point].switch)
                if threads[point].dead:
                    del threads[point]


def _speed_up_simulator():
    from numba.cuda.simulator import kernel as _sim

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
    try:
        import greenlet
    except ImportError:
        greenlet = None

    def _run(self, grid_point, *args):
        fn = self._f
        if fn not in _barrier_free:
            _barrier_free[fn] = not _has_barrier(fn)
        if not _barrier_free[fn]:
            if greenlet is None:
                return _original_run(self, grid_point, *args)
            return _run_as_greenlets(self, greenlet, grid_point, *args)
        return _run_one_after_another(self, grid_point, *args)

    _sim.BlockManager.run = _run


def install():
    """Apply every change above (a numba-cuda whose simulator lives elsewhere runs as it is)."""
    try:
        _count_the_module_swaps()
        _look_attributes_up_directly()
        _lock_the_shared_arrays()
        _speed_up_simulator()
    except ImportError:
        pass
