"""tinydl picks how its parallel kernels wait, depending on what was loaded before it."""
import os
import subprocess
import sys

import pytest


def run(code, **env):
    base = {k: v for k, v in os.environ.items()
            if k not in ("OMP_WAIT_POLICY", "NUMBA_THREADING_LAYER", "OPENBLAS_THREAD_TIMEOUT",
                         "GOMP_SPINCOUNT", "OPENBLAS_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=True)
    return out.stdout.split()


SETTINGS = ("import os, tinydl; print(tinydl.THREADING, tinydl.BLAS, os.environ.get('OMP_WAIT_POLICY'), "
            "os.environ.get('GOMP_SPINCOUNT'), os.environ['OPENBLAS_THREAD_TIMEOUT'], "
            "os.environ.get('OPENBLAS_NUM_THREADS'))")


def test_one_pool_with_a_short_spin_when_nothing_loaded_it_yet():
    # Numba's workers spin 20,000 rounds between kernels; SciPy's BLAS runs one thread per call
    # and OPENBLAS_NUM_THREADS is not left behind for NumPy or child processes
    assert run(SETTINGS) == ["omp-spin", "one-thread", "None", "20000", "4", "None"]


def test_the_users_choices_are_kept():
    assert run(SETTINGS, NUMBA_THREADING_LAYER="omp", OMP_WAIT_POLICY="ACTIVE", OPENBLAS_THREAD_TIMEOUT="10",
               OPENBLAS_NUM_THREADS="2") == ["user", "user", "ACTIVE", "None", "10", "2"]


def test_a_users_passive_policy_is_kept():
    assert run(SETTINGS, OMP_WAIT_POLICY="passive")[:4] == ["omp-passive", "one-thread", "passive", "None"]


def test_its_own_passive_openmp_beside_pytorchs():
    # PyTorch's wheel brings its own libgomp (spinning workers); Numba's omp layer loads the
    # system's beside it, which still reads OMP_WAIT_POLICY
    pytest.importorskip("torch")
    code = ("import torch, os, tinydl, numba, numpy as np; from tinydl import ops; "
            "ops.relu_forward(np.ones(10**6, np.float32)); "
            "print(tinydl.THREADING, numba.threading_layer(), os.environ['OMP_WAIT_POLICY'])")
    assert run(code) == ["omp-passive-beside", "omp", "PASSIVE"]


def test_workqueue_when_numbas_openmp_was_already_started_by_another_library():
    # the very runtime Numba would use, loaded (and its wait policy read) before tinydl
    code = ("import ctypes; ctypes.CDLL('libgomp.so.1'); import tinydl, numba, numpy as np; "
            "from tinydl import ops; ops.relu_forward(np.ones(10**6, np.float32)); "
            "print(tinydl.THREADING, numba.threading_layer())")
    assert run(code) == ["workqueue", "workqueue"]


def test_a_users_wait_policy_is_not_overridden_beside_another_runtime():
    code = "import ctypes; ctypes.CDLL('libgomp.so.1'); import os, tinydl; print(tinydl.THREADING, os.environ['OMP_WAIT_POLICY'])"
    assert run(code, OMP_WAIT_POLICY="ACTIVE") == ["workqueue", "ACTIVE"]


def test_child_processes_can_get_the_users_environment_back():
    code = ("import tinydl; from tinydl import _threads; e = _threads.user_environment(); "
            "print('GOMP_SPINCOUNT' in e, sorted(_threads.ADDED))")
    assert run(code) == ["False", "['GOMP_SPINCOUNT',", "'OPENBLAS_THREAD_TIMEOUT']"]
