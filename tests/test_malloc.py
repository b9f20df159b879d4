"""tinydl asks glibc to keep large freed blocks (tinydl/_malloc.py), so a step's temporaries do
not arrive as fresh pages that fault on first write."""
import os
import subprocess
import sys

import pytest

from tinydl import _malloc

pytestmark = pytest.mark.skipif(_malloc._glibc() is None, reason="glibc's mallopt only")

# A step-like pattern: three 3 MiB arrays made, written and freed, 40 times; prints the minor
# page faults of the loop.
STEP_LIKE = """
import resource, numpy as np, tinydl
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    a, b, c = (np.ones(3 << 18, np.float32) for _ in range(3))
start = faults()
for _ in range(40):
    a, b, c = (np.ones(3 << 18, np.float32) for _ in range(3))
    del a, b, c
print(tinydl.MALLOC, faults() - start)
"""


def run(**env):
    base = {k: v for k, v in os.environ.items() if k not in (*_malloc._USER_VARIABLES, "TINYDL_MALLOC")}
    out = subprocess.run([sys.executable, "-c", STEP_LIKE], env={**base, **env}, capture_output=True,
                         text=True, check=True)
    mode, faults = out.stdout.split()
    return mode, int(faults)


def test_freed_blocks_are_reused_instead_of_faulted_in_again():
    mode, faults = run()
    default_mode, default_faults = run(TINYDL_MALLOC="default")
    assert (mode, default_mode) == ("set", "user")
    # glibc's defaults: each 3 MiB block is 768 fresh pages every time (about 92,000 faults)
    assert default_faults > 40 * 768
    assert faults < 2_000


def test_the_users_malloc_settings_are_kept():
    assert run(MALLOC_TRIM_THRESHOLD_="1000000")[0] == "user"
