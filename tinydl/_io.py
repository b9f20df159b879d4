"""Atomic file writes: a crash or an error mid-write never leaves a half-written file where a
good one was (write to a temporary file beside the target, then os.replace). And the one
door for reading the .npz files tinydl writes (``load_npz``)."""
import os
import tempfile
import zipfile
from contextlib import contextmanager

import numpy as np

ZIP_MAGIC = b"PK\x03\x04"     # every .npz is a zip archive


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


def load_npz(path, what: str = "a tinydl weights .npz file"):
    """``np.load(path, allow_pickle=False)`` for an .npz, or ValueError saying the file is not
    ``what`` (NumPy alone would call a text file "pickled data") and what it starts with."""
    path = os.fspath(path)
    with open(path, "rb") as f:          # a missing file: FileNotFoundError, as open() says it
        head = f.read(len(ZIP_MAGIC))
    if head != ZIP_MAGIC:
        kind = "empty" if not head else f"it starts with {head!r}, not the zip signature {ZIP_MAGIC!r}"
        raise ValueError(f"{path} is not {what} (an .npz is a zip archive; {kind})")
    try:
        return np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path} is not {what}: a damaged zip archive ({e})") from e
