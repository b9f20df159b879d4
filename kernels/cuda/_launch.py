"""Launch helpers shared by the CUDA kernel modules (private).

Every kernel module in kernels/cuda/ takes NumPy or device arrays and returns device arrays.
These helpers keep that plumbing out of the lessons:

    on_device(a)        a NumPy array is uploaded once; a device array is returned as it is
    empty / zeros       fresh device arrays (zeros is filled by a kernel, not uploaded)
    flat(a)             the 1-D view of a C-contiguous device array (no copy)
    blocks(n, tpb)      how many blocks of tpb threads cover n items
    per_dtype(make)     kernels whose shared or local arrays need the dtype at compile time are
                        built once per dtype by a factory: make(np.float32) / make(np.float64)
    writeback(arrays)   in-place ops given NumPy arrays (a test, a user on the host): upload them,
                        and copy the results back into the same NumPy arrays on the way out
    host_sum(partials)  the one copy back to the host: a small array of per-block partial sums,
                        added on the host in float64 (losses and sum_squares return python floats)
    quiet_overflow()    the splitmix64 hash multiplies uint64 numbers modulo 2^64 on purpose;
                        Numba's simulator runs kernels as Python on NumPy scalars, which warn about
                        that wrap-around: silenced here, a no-op on a real GPU

A note for kernel writers: accumulate sums as ``acc = 0.0; acc += float64(x[i])``. On a GPU,
Numba would type ``acc`` float64 anyway, but the simulator runs the kernel as Python on NumPy
scalars, where 0.0 + float32 stays float32: the explicit cast makes both agree.
"""
import math
import os
import warnings
from contextlib import contextmanager, nullcontext

import numpy as np
from numba import cuda

TPB = 128          # threads per block of the 1-D (elementwise and per-row) kernels
SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"

def _patch_simulator():
    """Two fixes that make the simulator behave like a GPU here (no-ops without it)."""
    import threading

    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray as _Fake
    from numba.cuda.simulator.kernelapi import FakeCUDAShared as _Shared

    # 1. A real device array's .shape is a plain tuple, so layer code may write x.shape[-1]; the
    # simulator's host-side arrays return a tuple that refuses negative indices (it mimics
    # in-kernel shapes, which the simulator serves separately). Give them the real behaviour.
    _Fake.shape = property(lambda self: tuple(self._ary.shape))

    # 2. The simulator hands every thread of a block the same shared array by looking its call
    # site up in a dict, and creates it when missing: two threads arriving together can both
    # create one, and a thread left with its own copy silently breaks a block reduction (seen
    # under load as runs that differ). The lookup and the creation go under a lock.
    # (The original keys arrays by its caller's file and line; so does this one.)
    import sys

    from numba.core import types as _types
    from numba.np import numpy_support as _np_support

    _shared_lock = threading.Lock()
    _shared_array = _Shared.array

    def _locked_shared_array(self, shape, dtype):
        if shape == 0:                          # dynamic shared memory: no lookup involved
            return _shared_array(self, shape, dtype)
        if isinstance(dtype, _types.Type):
            dtype = _np_support.as_dtype(dtype)
        caller = sys._getframe(1)
        key = (caller.f_code.co_filename, caller.f_lineno)
        with _shared_lock:
            found = self._allocations.get(key)
            if found is None:
                found = self._allocations[key] = np.empty(shape, dtype)
        return found
    _Shared.array = _locked_shared_array


if SIMULATOR:
    try:
        _patch_simulator()
    except ImportError:          # a numba(-cuda) whose simulator lives elsewhere: run unpatched
        pass


def is_device_array(a) -> bool:
    return hasattr(a, "copy_to_host")


def on_device(a):
    """``a`` as a device array: uploaded when it is a NumPy array."""
    if a is None or is_device_array(a):
        return a
    return cuda.to_device(np.ascontiguousarray(a))


@contextmanager
def writeback(*arrays):
    """Device versions of ``arrays`` for an in-place kernel; NumPy arrays among them get the
    kernel's results copied back into them when the block ends (device arrays need nothing)."""
    on_dev = [on_device(a) for a in arrays]
    yield on_dev
    for a, d in zip(arrays, on_dev, strict=True):
        if a is not None and not is_device_array(a):
            d.copy_to_host(a)


def empty(shape, dtype):
    return cuda.device_array(tuple(int(s) for s in shape), dtype=np.dtype(dtype))


@cuda.jit
def _fill(out, value):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = value


def zeros(shape, dtype):
    out = empty(shape, dtype)
    fill(out, 0)
    return out


def fill(out, value):
    """Set every element of the device array ``out`` to ``value``, in place."""
    n = out.size
    if n:
        _fill[blocks(n), TPB](flat(out), out.dtype.type(value))
    return out


def flat(a):
    return a.reshape(a.size)


def blocks(n, tpb=TPB) -> int:
    return max(1, (int(n) + tpb - 1) // tpb)


def per_dtype(make):
    """A getter that builds ``make(dtype_class)`` once per float dtype and remembers it."""
    built = {}

    def get(dtype):
        key = np.dtype(dtype)
        kernel = built.get(key)
        if kernel is None:
            kernel = built[key] = make(key.type)
        return kernel
    return get


def host_sum(partials) -> float:
    """Sum a small device array of float64 partial sums on the host: the one copy back."""
    return float(math.fsum(partials.copy_to_host().tolist()))


@contextmanager
def _ignore_overflow():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def quiet_overflow():
    return _ignore_overflow() if SIMULATOR else nullcontext()
