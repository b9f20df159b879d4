"""Shared by the test files: which devices and kernel versions to run, and tolerances."""
from contextlib import contextmanager, nullcontext

import numpy as np
import pytest

from tinydl import device

# float64 results must agree with the reference to 1e-9 relative; float32 to 1e-4
TOL = {np.dtype(np.float64): dict(rtol=1e-9, atol=1e-11), np.dtype(np.float32): dict(rtol=1e-4, atol=1e-5)}


def kernel_cases(family):
    """pytest params (device, version): every version of ``family`` on 'cpu', and on 'cuda'
    when a GPU or the simulator is there (marked ``cuda``)."""
    cases = []
    for dev in ("cpu", "cuda"):
        if dev == "cuda" and not device.cuda_available():
            continue
        try:
            numbers = device.versions(family, dev)
        except ModuleNotFoundError:
            continue
        marks = [pytest.mark.cuda] if dev == "cuda" else []
        for v in numbers or [None]:
            name = dev if v is None else f"{dev}-v{v}"
            cases.append(pytest.param(dev, v, id=name, marks=marks))
    return cases


@contextmanager
def on(dev, family=None, version=None):
    """Run the block on ``dev`` with ``version`` of ``family`` (None: the default version)."""
    ctx = device.use_version(family, version, dev) if version is not None else nullcontext()
    with device.using(dev), ctx:
        yield


def host(a):
    return device.to_numpy(a)


def assert_close(actual, expected, dtype=None):
    actual, expected = host(actual), host(expected)
    dtype = np.dtype(dtype or expected.dtype)
    np.testing.assert_allclose(actual, expected, **TOL.get(dtype, TOL[np.dtype(np.float32)]))
