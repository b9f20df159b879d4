"""Which numbered version of a kernel family answers a call.

A versioned family module (for example ``kernels/cpu/conv2d.py``) holds a ``VERSIONS`` table,
``{1: {"conv2d_forward": ..., "conv2d_backward": ...}, 2: ...}``, and a ``DEFAULT`` number (the
fastest correct version). A ``with`` block chooses another version, in the calling thread only:

    with tinydl.device.use_version("conv2d", 1):
        out, cache = ops.conv2d_forward(x, w, b)

The ops (tinydl/ops/_cache.py) ask ``chosen`` which version a forward runs, call that
version's function from the table (``function``), and write the number into the cache, so the
backward runs the version that made the cache whatever is active by then. The modules' own
public functions (``conv2d_forward`` ...) look up ``active`` on each call, for direct callers.
"""
import threading
from contextlib import contextmanager

_local = threading.local()


def _table() -> dict:
    # this thread's choices: {"<device>.<family>": version}
    table = getattr(_local, "table", None)
    if table is None:
        table = _local.table = {}
    return table


def active(key: str, default: int) -> int:
    """The version chosen for ``key`` ("<device>.<family>") in this thread, else ``default``."""
    return _table().get(key, default)


@contextmanager
def use(key: str, version: int):
    """Make ``version`` the active one for ``key`` inside the ``with`` block (this thread only)."""
    table = _table()
    previous = table.get(key)
    table[key] = version
    try:
        yield
    finally:
        if previous is None:
            table.pop(key, None)
        else:
            table[key] = previous


def chosen(module, key: str, name: str):
    """The version of function ``name`` that a call in this thread runs: the active number when
    ``module`` has ``name`` in its VERSIONS table, else None (an unversioned function)."""
    table = getattr(module, "VERSIONS", None)
    if not table:
        return None
    version = active(key, module.DEFAULT)
    return version if name in table[version] else None


def function(module, name: str, version):
    """Function ``name`` of ``module`` at ``version`` (None: the module's unversioned function)."""
    if version is None:
        return getattr(module, name)
    return module.VERSIONS[version][name]
