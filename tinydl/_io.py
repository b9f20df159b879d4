"""Atomic file writes: a crash or an error mid-write never leaves a half-written file where a
good one was (write to a temporary file beside the target, then os.replace).

The temporary file is ``.<name>.tmp-<pid>-<token>-<n>`` beside ``<name>``: ``pid`` the writing
process, ``token`` random per process, ``n`` a counter per write. It is created like any new file
(mode 0666 less the umask: 0644 with the usual 022), not 0600 as mkstemp would. A writer killed
mid-write leaves its temporary file behind; the next write (or load) of the same name removes the
ones whose process is gone (``clean_orphans``).

And the one door for reading the .npz files tinydl writes (``load_npz``).
"""
import itertools
import os
import secrets
import zipfile
from contextlib import contextmanager

import numpy as np

_TOKEN = secrets.token_hex(4)
_COUNT = itertools.count()
ZIP_MAGIC = b"PK\x03\x04"     # every .npz is a zip archive
_MAX_BASE = 200          # file names are at most 255 bytes: leave room for the suffix


def _prefix(path) -> str:
    return f".{os.path.basename(path)[:_MAX_BASE]}.tmp-"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":
        return True                             # no safe probe there: keep the file
    try:
        os.kill(pid, 0)                         # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_orphans(path) -> list[str]:
    """Remove the temporary files that dead writers of ``path`` left; returns their paths."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    prefix = _prefix(path)
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix)]
    except OSError:
        return []
    removed = []
    for name in names:
        pid, token = (name[len(prefix):].split("-") + ["", ""])[:2]
        if not pid.isdigit():
            continue
        mine = int(pid) == os.getpid() and token == _TOKEN     # a write of this process, in flight
        if mine or (int(pid) != os.getpid() and _pid_alive(int(pid))):
            continue
        try:
            os.remove(os.path.join(folder, name))
            removed.append(os.path.join(folder, name))
        except OSError:
            pass
    return removed


@contextmanager
def atomic_open(path, mode="wb", suffix=""):
    """Yield a file object; on success the file replaces ``path`` in one step. (``suffix`` is
    kept for the callers that pass one; the temporary name no longer needs it.)"""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    clean_orphans(path)
    tmp = os.path.join(folder, f"{_prefix(path)}{os.getpid()}-{_TOKEN}-{next(_COUNT)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)             # the umask applies, as for open(path, "w")
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
