"""Without a GPU and without the simulator, asking for 'cuda' fails with advice, not a traceback
from deep inside Numba. Runs in a subprocess whose environment lacks NUMBA_ENABLE_CUDASIM."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.cuda

SCRIPT = """
from numba import cuda
try:
    real_gpu = cuda.is_available()
except Exception:
    real_gpu = False
if real_gpu:
    print("REAL GPU")
else:
    import tinydl as td
    try:
        td.set_device("cuda")
    except RuntimeError as e:
        print("ERROR:", e)
    else:
        print("NO ERROR")
"""


def test_set_device_cuda_without_gpu_or_simulator_says_what_to_do():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    out = result.stdout
    if "REAL GPU" in out:
        pytest.skip("this machine has a GPU: set_device('cuda') works here")
    assert result.returncode == 0, result.stderr
    assert out.startswith("ERROR:"), out
    assert "NVIDIA GPU" in out and "NUMBA_ENABLE_CUDASIM=1" in out and "set_device('cpu')" in out
