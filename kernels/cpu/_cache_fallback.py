"""Numba's on-disk cache when there is somewhere to put it, else none (with one warning).

Every CPU kernel is ``@njit(cache=True)``. Numba looks for a cache folder beside the source
(kernels/cpu/__pycache__), then in ~/.cache/numba (or $NUMBA_CACHE_DIR); when none is writable
(a read-only install and a read-only HOME) it raises at the decorator, so the first op that
imports a kernel module would fail with "cannot cache function ...: no locator available".

``install()`` wraps ``Dispatcher.enable_caching`` (the call behind ``cache=True``) once: for a
function defined in tinydl's own kernel folders, that error leaves the dispatcher with Numba's
default no-op cache instead, so the kernel compiles in memory on first use in each process, as
with ``cache=False``. Functions of other packages keep Numba's behaviour exactly.
"""
import inspect
import os
import warnings

from numba.core import dispatcher

_TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_ROOTS = tuple(os.path.join(_TOP, d) + os.sep for d in ("kernels", "datasets"))  # repo or tinydl/
_state = {"warned": False}


def _is_tinydl_kernel(py_func) -> bool:
    try:
        path = os.path.abspath(inspect.getfile(py_func))
    except TypeError:
        return False
    return path.startswith(_ROOTS)


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
        try:
            original(self)
        except RuntimeError as e:
            if "no locator available" not in str(e) or not _is_tinydl_kernel(self.py_func):
                raise
            _warn_once(e)          # self._cache stays Numba's NullCache: compiled, not cached

    enable_caching._tinydl_fallback = True
    dispatcher.Dispatcher.enable_caching = enable_caching
