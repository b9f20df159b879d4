"""Devices: which kernel modules answer an op.

    "reference"  kernels/reference/<family>.py   plain NumPy, the ground truth
    "cpu"        kernels/cpu/<family>.py         Numba @njit kernels (the default)
    "cuda"       kernels/cuda/<family>.py        numba.cuda kernels

Every family module exports the same function names on every device, so swapping the device
changes which module answers, never the call (tinydl.ops does the calling).

``set_device`` sets the process-wide default; a ``using(...)`` block overrides it in the calling
thread only, so one thread's block cannot move another thread's ops.
"""
import importlib
import os
import threading
from contextlib import contextmanager

import numpy as np

from tinydl.kernels import _versions

DEVICES = ("reference", "cpu", "cuda")
_state = {"device": "cpu"}          # the process-wide default
_local = threading.local()           # .device: this thread's override inside using(...)
_modules: dict[tuple[str, str], object] = {}


def _check_name(name):
    if name not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}; received {name!r}")


def cuda_available() -> bool:
    """True on a machine with an NVIDIA GPU, or when Numba's CUDA simulator is switched on."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return True
    try:
        from numba import cuda
        return bool(cuda.is_available())
    except Exception:  # numba.cuda may fail to import without a driver
        return False


def check_available(name: str) -> None:
    """Raise a clear error when ``name`` cannot run on this machine."""
    _check_name(name)
    if name == "cuda" and not cuda_available():
        raise RuntimeError(
            "device 'cuda' needs an NVIDIA GPU with a working driver, and none was found. "
            "To run the CUDA kernels without a GPU, start Python with NUMBA_ENABLE_CUDASIM=1 "
            "(Numba's simulator: slow, for tiny shapes), or use set_device('cpu')."
        )


def set_device(name: str) -> None:
    """Make ``name`` ('reference' | 'cpu' | 'cuda') the device of every following op."""
    check_available(name)
    _state["device"] = name
    if getattr(_local, "device", None) is not None:
        _local.device = name   # inside this thread's using() block: seen at once, restored at its end


def get_device() -> str:
    """The device of this thread's ops: its using() override, else the process-wide default."""
    return getattr(_local, "device", None) or _state["device"]


@contextmanager
def using(name: str):
    """Run the ``with`` block on device ``name``, then restore the previous device."""
    check_available(name)
    previous = getattr(_local, "device", None)
    _local.device = name
    try:
        yield
    finally:
        _local.device = previous


def backend(family: str, device: str | None = None):
    """The kernel module of ``family`` (e.g. 'dense') for ``device`` (default: the active one)."""
    device = device or get_device()
    key = (device, family)
    module = _modules.get(key)
    if module is None:
        module = importlib.import_module(f"tinydl.kernels.{device}.{family}")
        _modules[key] = module
    return module


def versions(family: str, device: str | None = None) -> list[int]:
    """The numbered versions that ``family`` has on ``device`` ([] for an unversioned module)."""
    return sorted(getattr(backend(family, device), "VERSIONS", {}))


@contextmanager
def use_version(family: str, version: int, device: str | None = None):
    """Run the ``with`` block with kernel ``version`` of ``family`` on ``device``."""
    device = device or get_device()
    available = versions(family, device)
    if version not in available:
        raise ValueError(
            f"{device}.{family} has versions {available}; received version={version!r}"
        )
    with _versions.use(f"{device}.{family}", version):
        yield


def is_device_array(a) -> bool:
    """True for a numba.cuda device array (anything with copy_to_host)."""
    return hasattr(a, "copy_to_host")


def to_numpy(a):
    """A host NumPy copy of ``a`` (a NumPy array is returned as it is)."""
    if is_device_array(a):
        return a.copy_to_host()
    return np.asarray(a)


def to_device(a, device: str | None = None):
    """``a`` placed on ``device`` (default: the active one): a device array for 'cuda',
    a NumPy array otherwise. Arrays already in place are returned as they are."""
    device = device or get_device()
    if device == "cuda":
        if is_device_array(a):
            return a
        from numba import cuda
        return cuda.to_device(np.ascontiguousarray(a))
    return to_numpy(a)
