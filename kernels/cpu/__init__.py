"""Numba CPU kernels. Each family module opens with its lesson plan and a VERSIONS table."""
