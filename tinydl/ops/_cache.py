"""One cache record for every op family, and the helpers that make and check it.

A forward runs on the active device with the active kernel version of its family, and returns
an ``OpCache`` naming both. The backward checks that the cache is one of its own forward's,
checks ``dout`` against the saved output shape and dtype, and then runs the backward of the
device and version that MADE the cache, whatever is active by then:

    out, cache = run_forward("pool2d", "maxpool2d", x, pool, stride, padding)
    dout = check_dout(dout, cache, "maxpool2d")
    dx = run_backward("pool2d", "maxpool2d", cache, dout)

A cache from another op, a tuple or None is refused with a TypeError before any kernel runs:
kernels trust their cache's layout, and a foreign one is read out of bounds.
"""
import threading
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from tinydl import device as _device
from tinydl.kernels import _versions
from tinydl.ops import _checks

__all__ = ["OpCache", "run_forward", "run_backward", "run_params_backward", "expect", "check_dout",
           "kernel_section"]

_lock = threading.RLock()
_layer_is_threadsafe = []   # [True/False] once Numba has chosen its threading layer


def _threadsafe_layer() -> bool:
    if not _layer_is_threadsafe:
        import numba
        try:
            layer = numba.threading_layer()
        except ValueError:          # no parallel kernel has run yet: the layer is not chosen
            return False
        _layer_is_threadsafe.append(layer in ("omp", "tbb"))
    return _layer_is_threadsafe[0]


@contextmanager
def kernel_section():
    """Around every kernel call. Numba's 'workqueue' threading layer (tinydl picks it when
    PyTorch loaded its OpenMP first, tinydl/_threads.py) aborts the process when two Python
    threads run parallel kernels at once: there, kernels run one thread at a time. The OpenMP
    and TBB layers are thread-safe and run them concurrently."""
    if _threadsafe_layer():
        yield
        return
    with _lock:
        yield


class OpCache(NamedTuple):
    """What a forward hands its backward."""
    op: str            # the op's name: "maxpool2d" for maxpool2d_forward / maxpool2d_backward
    device: str        # the device whose kernel made ``kernel``
    version: object    # that kernel's version number (None: an unversioned kernel)
    kernel: object     # the kernel's own cache, in the layout of that device and version
    shape: tuple       # the output's shape (for a loss: the prediction's), checked against dout
    dtype: np.dtype    # the output's dtype
    meta: object = None  # what the op layer itself needs in the backward (shapes to restore)


def run_forward(family: str, op: str, *args, shape=None, dtype=None, meta=None):
    """Run ``<op>_forward`` of ``family`` on this thread's device and version.

    Returns (out, OpCache); ``shape``/``dtype`` default to out's (give them when out is reshaped
    afterwards or is a number, as a loss is)."""
    device = _device.get_device()
    module = _device.backend(family, device)
    name = f"{op}_forward"
    version = _versions.chosen(module, f"{device}.{family}", name)
    with kernel_section():
        out, kernel_cache = _versions.function(module, name, version)(*args)
    shape = tuple(out.shape) if shape is None else tuple(shape)
    dtype = np.dtype(out.dtype if dtype is None else dtype)
    return out, OpCache(op, device, version, kernel_cache, shape, dtype, meta)


def expect(cache, op: str) -> OpCache:
    """``cache`` if ``<op>_forward`` made it, else a TypeError saying what was needed."""
    if isinstance(cache, OpCache) and cache.op == op:
        return cache
    if isinstance(cache, OpCache):
        got = f"the cache of {cache.op}_forward"
    elif cache is None:
        got = "None"
    else:
        got = f"a {type(cache).__name__}"
    raise TypeError(f"{op}_backward needs the cache returned by {op}_forward; received {got}")


def check_dout(dout, cache, op: str, name: str = "dout"):
    """``dout`` as a contiguous float array of the forward output's shape and dtype, on the
    device that made the cache."""
    cache = expect(cache, op)
    d = _checks.as_float(dout, name)
    _checks.shape_is(d, name, cache.shape)
    if np.dtype(d.dtype) != cache.dtype:
        raise TypeError(f"{name} must have the forward's dtype {cache.dtype}; received {np.dtype(d.dtype)}")
    return _device.to_device(d, cache.device)


def run_backward(family: str, op: str, cache, *args):
    """``<op>_backward(*args, kernel_cache)`` of the device and version that made ``cache``."""
    cache = expect(cache, op)
    module = _device.backend(family, cache.device)
    with kernel_section():
        return _versions.function(module, f"{op}_backward", cache.version)(*args, cache.kernel)


def run_params_backward(family: str, op: str, cache, *args):
    """The weights' gradients only, for an input that needs none: the kernel in the module's
    PARAMS_ONLY table for the version that made ``cache`` (keyed by the version for the
    family's own op, by (op, version) for another: it skips the dx work), else the whole
    ``<op>_backward`` with its dx dropped. Returns what the backward returns after dx."""
    cache = expect(cache, op)
    table = getattr(_device.backend(family, cache.device), "PARAMS_ONLY", {})
    params_only = table.get(cache.version if op == family else (op, cache.version))
    if params_only is None:
        return tuple(run_backward(family, op, cache, *args))[1:]
    with kernel_section():
        return tuple(params_only(*args, cache.kernel))
