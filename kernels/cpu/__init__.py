"""Numba CPU kernels. Each family module opens with its lesson plan and a VERSIONS table."""
from tinydl.kernels.cpu import _cache_fallback

_cache_fallback.install()      # no writable cache folder: compile in memory (one warning)
