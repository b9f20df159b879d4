"""Atomic file writes: a crash or an error mid-write never leaves a half-written file where a
good one was (write to a temporary file beside the target, then os.replace)."""
import os
import tempfile
from contextlib import contextmanager


@contextmanager
def atomic_open(path, mode="wb", suffix=""):
    """Yield a file object; on success the file replaces ``path`` in one step."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
