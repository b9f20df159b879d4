"""Plain NumPy kernels: readable ground truth for the cpu and cuda devices."""
