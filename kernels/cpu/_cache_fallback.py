"""Numba's on-disk cache when there is somewhere to put it, else none (with one warning).

Every CPU kernel is ``@njit(cache=True)``. Numba looks for a cache folder beside the source
(kernels/cpu/__pycache__), then in ~/.cache/numba (or $NUMBA_CACHE_DIR); when none is writable
(a read-only install and a read-only HOME) it raises at the decorator, so the first op that
imports a kernel module would fail with "cannot cache function ...: no locator available".

``install()`` wraps ``Dispatcher.enable_caching`` (the call behind ``cache=True``) once: for a
function defined in tinydl's own kernel folders, that error leaves the dispatcher with Numba's
default no-op cache instead, so the kernel compiles in memory on first use in each process, as
with ``cache=False``. Functions of other packages keep Numba's behaviour exactly.

It also makes a cached kernel stale when any source file of its folder tree changes, not only
its own file. Numba keys each cache entry by its own file's modification time and size, yet a
kernel's machine code includes the helpers it calls from other files (kernels/cpu/_blas.py's
gemm_block inside dense's and conv's kernels): after an edit of the helper alone, the callers'
cached code, built from the old helper, went on loading. Each tinydl kernel's cache stamp is
now (Numba's stamp, a hash of every .py file under kernels/ or datasets/), computed once per
process; an edit anywhere there recompiles that tree's kernels on their next use.
"""
import hashlib
import inspect
import os
import warnings

from numba.core import dispatcher

_TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_ROOTS = tuple(os.path.join(_TOP, d) + os.sep for d in ("kernels", "datasets"))  # repo or tinydl/
_state = {"warned": False}
_stamps = {}            # root folder -> the hash of its sources, once per process


def _kernel_root(py_func):
    """The folder of _ROOTS that holds ``py_func``'s source, or None (not a tinydl kernel)."""
    try:
        path = os.path.abspath(inspect.getfile(py_func))
    except TypeError:
        return None
    return next((root for root in _ROOTS if path.startswith(root)), None)


def tree_stamp(root) -> str:
    """sha256 of the relative path and contents of every .py file under ``root``."""
    if root not in _stamps:
        digest = hashlib.sha256()
        for folder, dirs, files in sorted(os.walk(root)):
            dirs.sort()
            for name in sorted(f for f in files if f.endswith(".py")):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode() + b"\0")
                with open(path, "rb") as f:
                    digest.update(f.read() + b"\0")
        _stamps[root] = digest.hexdigest()
    return _stamps[root]


def _stamp_with_tree(dispatcher_, root) -> None:
    # the cache index stores and compares this stamp (numba.core.caching.IndexDataCacheFile)
    cache_file = getattr(getattr(dispatcher_, "_cache", None), "_cache_file", None)
    if cache_file is not None:
        cache_file._source_stamp = (cache_file._source_stamp, tree_stamp(root))


def _warn_once(error) -> None:
    if not _state["warned"]:
        _state["warned"] = True
        warnings.warn(f"tinydl: Numba has nowhere to cache compiled kernels ({error}); compiling "
                      "them in memory instead, again in every new process. Set NUMBA_CACHE_DIR to "
                      "a writable folder to keep them.", RuntimeWarning, stacklevel=4)


def install() -> None:
    """Wrap Dispatcher.enable_caching (idempotent)."""
    original = dispatcher.Dispatcher.enable_caching
    if getattr(original, "_tinydl_fallback", False):
        return

    def enable_caching(self):
        root = _kernel_root(self.py_func)
        try:
            original(self)
        except RuntimeError as e:
            if "no locator available" not in str(e) or root is None:
                raise
            _warn_once(e)          # self._cache stays Numba's NullCache: compiled, not cached
            return
        if root is not None:
            _stamp_with_tree(self, root)

    enable_caching._tinydl_fallback = True
    dispatcher.Dispatcher.enable_caching = enable_caching
