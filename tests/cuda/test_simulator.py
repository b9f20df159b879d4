"""The simulator itself, as tests/cuda_simulator.py runs it, without its two races: a device
function from another module that meets the block at cuda.syncthreads() sees the simulated cuda
module in every thread, and every thread of a block gets the same shared array.

Numba's simulator swaps the module's `cuda` global for its fake one when a thread enters a device
function and swaps it back when that thread leaves: with several threads inside at once, the first
one out put the real module back while the others still needed the fake one ("module 'numba.cuda'
has no attribute 'syncthreads'"). And it created a block's shared array on first use without a
lock, so two threads could each make one. Each broke about one launch in a hundred here.
"""
import os

import numpy as np
import pytest

pytestmark = pytest.mark.cuda

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("a test of Numba's CUDA simulator", allow_module_level=True)

import threading  # noqa: E402
import types  # noqa: E402

from numba import cuda  # noqa: E402
from numba.cuda.simulator import kernel as _sim  # noqa: E402
from numba.cuda.simulator.kernelapi import FakeCUDAModule, FakeCUDAShared  # noqa: E402

from tinydl.kernels.cuda._reduce import RTPB, block_max, block_sum  # noqa: E402


@cuda.jit
def _two_reductions(x, out):
    # one block per row of x (rows, RTPB): out[row] = (max, sum) through two device functions
    buf = cuda.shared.array(RTPB, dtype=np.float64)
    row = cuda.blockIdx.x
    t = cuda.threadIdx.x
    m = block_max(buf, x[row, t])
    s = block_sum(buf, x[row, t])
    if t == 0:
        out[row, 0] = m
        out[row, 1] = s


def test_the_first_thread_out_leaves_the_simulated_module_to_those_still_inside():
    fn = types.FunctionType(compile("0", "<device function>", "eval"), {"cuda": cuda})
    fake = FakeCUDAModule((1, 1, 1), (2, 1, 1), 0)
    first, second = _sim.swapped_cuda_module(fn, fake), _sim.swapped_cuda_module(fn, fake)
    first.__enter__()
    second.__enter__()
    assert fn.__globals__["cuda"] is fake
    first.__exit__(None, None, None)
    assert fn.__globals__["cuda"] is fake
    second.__exit__(None, None, None)
    assert fn.__globals__["cuda"] is cuda


def _shared_arrays_of_one_block(threads=8):
    shared = FakeCUDAShared(0)
    got, barrier = [], threading.Barrier(threads)

    def thread():
        barrier.wait()
        got.append(shared.array(4, np.float64))

    started = [threading.Thread(target=thread) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()
    return got


def test_every_thread_of_a_block_gets_the_same_shared_array():
    # unlocked, about one block in ten got two arrays here: 100 blocks make a miss unlikely
    for _ in range(100):
        got = _shared_arrays_of_one_block()
        assert len(got) == 8 and all(a is got[0] for a in got)


def test_device_functions_with_barriers_in_every_thread_of_many_launches():
    x = np.arange(8 * RTPB, dtype=np.float64).reshape(8, RTPB)
    for _ in range(5):
        out = np.zeros((8, 2))
        _two_reductions[8, RTPB](x, out)
        np.testing.assert_array_equal(out[:, 0], x.max(axis=1))
        np.testing.assert_array_equal(out[:, 1], x.sum(axis=1))
