"""Large temporaries without page faults: ask glibc's malloc to keep freed memory for reuse.

A training step allocates and frees the same large arrays every step (im2col columns,
activations and their gradients, 1-10 MiB each). glibc serves a block above its mmap threshold
(128 KiB at first, raised as blocks are freed, at most 32 MiB) with a fresh mmap and unmaps it
on free, and it returns a free heap top larger than its trim threshold to the system. Either way
the next step's array arrives as untouched pages, and the kernel that first writes it pays a
page fault for every 4 KiB. Measured on the small CNN's step (batch 64, 2 threads): 74,600 minor
faults in 25 steps with glibc's defaults, 27,600 with the settings below, the median step 38 ms
-> 33 ms, the same peak RSS (docs/kernels.md, "the Python path of a step").

So at import tinydl sets M_MMAP_THRESHOLD to 32 MiB (glibc's largest) and M_TRIM_THRESHOLD to
512 MiB with mallopt(3). The price: memory a step freed stays in the process (up to 512 MiB at
the heap top) instead of going back to the system between steps. Kept as they are: glibc's
settings when the user chose any (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, GLIBC_TUNABLES),
or set TINYDL_MALLOC=default; and any C library that is not glibc (macOS, musl).
"""
import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # mallopt's parameter numbers in <malloc.h>
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 512 << 20
_USER_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


def _glibc():
    """The process's glibc, or None (another C library, or none that ctypes can find)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()
    except (OSError, AttributeError):
        return None
    return libc


def configure() -> str:
    """Set the two thresholds; returns 'set', 'user' (the user's choice kept) or 'unavailable'."""
    if os.environ.get("TINYDL_MALLOC", "").lower() == "default" or \
            any(os.environ.get(k) for k in _USER_VARIABLES):
        return "user"
    libc = _glibc()
    if libc is None:
        return "unavailable"
    ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    return "set" if ok else "unavailable"
