"""Which numbered version of a kernel family answers a call.

A versioned family module (for example ``kernels/cpu/conv2d.py``) holds a ``VERSIONS`` table,
``{1: (forward_v1, backward_v1), 2: ...}``, and a ``DEFAULT`` number (the fastest correct
version). Its public functions look the active version up here on every call, so tests and
benchmarks can switch versions without touching the layers:

    with tinydl.device.use_version("conv2d", 1):
        out, cache = ops.conv2d_forward(x, w, b)
"""
from contextlib import contextmanager

_active: dict[str, int] = {}


def active(key: str, default: int) -> int:
    """The version chosen for ``key`` ("<device>.<family>"), else ``default``."""
    return _active.get(key, default)


@contextmanager
def use(key: str, version: int):
    """Make ``version`` the active one for ``key`` inside the ``with`` block."""
    previous = _active.get(key)
    _active[key] = version
    try:
        yield
    finally:
        if previous is None:
            _active.pop(key, None)
        else:
            _active[key] = previous
