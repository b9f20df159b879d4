"""tests/cuda: the CUDA kernels against the NumPy reference, on tiny shapes.

Without a GPU these run in Numba's simulator (NUMBA_ENABLE_CUDASIM=1 set before Numba is
imported), which runs every CUDA thread as a Python thread and lets a block's threads meet at
cuda.syncthreads() by polling them. Python hands the interpreter between threads every 5 ms by
default, so each barrier costs milliseconds; a shorter switch interval makes the simulated
barriers about ten times cheaper. Only set under the simulator.
"""
import os
import sys

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    sys.setswitchinterval(1e-4)
