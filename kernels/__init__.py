"""tinydl.kernels: all the arithmetic.

reference/  NumPy, written for reading: the ground truth of every test.
cpu/        Numba @njit kernels, numbered versions, naive first.
cuda/       numba.cuda kernels and their launchers, numbered versions, naive first.

Every family module exports the same function names on every device; see tinydl.device.
"""
