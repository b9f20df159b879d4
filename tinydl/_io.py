"""Atomic file writes: a crash or an error mid-write never leaves a half-written file where a
good one was (write to a temporary file beside the target, then os.replace).

The temporary file is ``.<name>.tmp-<pid>-<token>-<n>`` beside ``<name>``: ``pid`` the writing
process, ``token`` random per process, ``n`` a counter per write. It is created like any new file
(mode 0666 less the umask: 0644 with the usual 022), not 0600 as mkstemp would. A writer killed
mid-write leaves its temporary file behind; the next write (or load) of the same name removes the
ones whose process is gone (``clean_orphans``).
"""
import itertools
import os
import secrets
from contextlib import contextmanager

_TOKEN = secrets.token_hex(4)
_COUNT = itertools.count()
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


def _create(tmp) -> int:
    """A new file's descriptor, created as open(path, "w") would: the umask applies."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(tmp, flags, 0o666)


@contextmanager
def atomic_open(path, mode="wb", suffix=""):
    """Yield a file object; on success the file replaces ``path`` in one step. (``suffix`` is
    kept for the callers that pass one; the temporary name no longer needs it.)"""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    clean_orphans(path)
    tmp = os.path.join(folder, f"{_prefix(path)}{os.getpid()}-{_TOKEN}-{next(_COUNT)}")
    fd = _create(tmp)
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
