"""pytest-benchmark suite: tinydl and PyTorch in the same group, so pytest-benchmark's table
shows them side by side (the bench_*.py scripts print the ratios).

    python -m pytest benchmarks/ --benchmark-only --benchmark-group-by=group
"""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
torch = pytest.importorskip("torch")

import bench_mlp  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def same_threads():
    import numba
    torch.set_num_threads(numba.config.NUMBA_NUM_THREADS)


@pytest.fixture(scope="module")
def mlp_batch():
    rng = np.random.default_rng(0)
    return rng.standard_normal((256, 784)).astype(np.float32), rng.integers(0, 10, 256)


@pytest.mark.parametrize("framework", ["tinydl", "torch"])
def test_mlp_train_step(benchmark, framework, mlp_batch):
    make = bench_mlp.tinydl_step if framework == "tinydl" else bench_mlp.torch_step
    step = make([784, 512, 512, 10], *mlp_batch)  # one process for both: see _harness.py
    step()
    benchmark.group = "MLP 784-512-512-10 train step, batch 256"
    loss = benchmark(step)
    assert np.isfinite(loss)


@pytest.mark.parametrize("framework", ["tinydl", "torch"])
def test_dense_forward_backward(benchmark, framework):
    from tinydl import ops
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 784)).astype(np.float32)
    w = (rng.standard_normal((784, 512)) * 0.05).astype(np.float32)
    b = np.zeros(512, np.float32)
    dout = rng.standard_normal((256, 512)).astype(np.float32)
    if framework == "tinydl":
        def step():
            out, cache = ops.dense_forward(x, w, b)
            return ops.dense_backward(dout, cache)
    else:
        xt, wt, bt, dt = (torch.from_numpy(a) for a in (x, w, b, dout))

        def step():
            out = torch.addmm(bt, xt, wt)
            return dt @ wt.T, xt.T @ dt, dt.sum(0), out
    step()
    benchmark.group = "Dense (256,784)x(784,512) forward+backward"
    benchmark(step)
