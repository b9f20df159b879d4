"""Several threads at once: kernels keep per-thread scratch, and the active device and kernel
versions are per thread (set_device stays the process-wide default)."""
import threading

import numpy as np
import pytest

import tinydl as td
from tinydl import device, layers
from tinydl.kernels import _versions


def _cnn(seed, filters):
    td.set_seed(seed)
    model = td.Sequential([
        layers.Input((3, 12, 12)),
        layers.Conv2D(filters, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(2 * filters, 3, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(5),
    ])
    model.predict(np.zeros((1, 3, 12, 12), np.float32))   # build
    return model


def _run_together(jobs):
    """Run each job in its own thread, all released at once; re-raise the first failure."""
    start = threading.Barrier(len(jobs))
    errors = []

    def wrap(job):
        try:
            start.wait()
            job()
        except BaseException as e:  # noqa: BLE001  (handed to the main thread)
            errors.append(e)
    threads = [threading.Thread(target=wrap, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.mark.parametrize("version", device.versions("conv2d", "cpu"))
def test_two_threads_predicting_on_two_cnns_get_their_single_thread_answers(version):
    rng = np.random.default_rng(0)
    models = [_cnn(1, 4), _cnn(2, 6)]
    xs = [rng.standard_normal((8, 3, 12, 12)).astype(np.float32) for _ in models]
    with device.use_version("conv2d", version):
        want = [m.predict(x) for m, x in zip(models, xs, strict=True)]
    wrong = []

    def job(i):
        def run():
            with device.use_version("conv2d", version):
                for _ in range(15):
                    got = models[i].predict(xs[i])
                    if not np.array_equal(got, want[i]):
                        wrong.append(i)
        return run
    _run_together([job(0), job(1)])
    assert wrong == []


def test_a_use_version_block_changes_only_its_own_thread():
    inside, seen = threading.Event(), threading.Event()
    other = {}

    def holder():
        with device.use_version("conv2d", 1):
            inside.set()
            seen.wait(10)
            other["holder"] = _versions.active("cpu.conv2d", 99)

    def watcher():
        inside.wait(10)
        other["watcher"] = _versions.active("cpu.conv2d", 99)
        x = np.ones((1, 1, 4, 4))
        other["cache_version"] = td.ops.conv2d_forward(x, np.ones((1, 1, 3, 3)), None)[1].version
        seen.set()
    _run_together([holder, watcher])
    assert other == {"holder": 1, "watcher": 99,
                     "cache_version": device.backend("conv2d", "cpu").DEFAULT}


def test_a_using_block_changes_only_its_own_thread_and_set_device_is_the_default():
    inside, seen = threading.Event(), threading.Event()
    got = {}

    def holder():
        with device.using("reference"):
            inside.set()
            seen.wait(10)
            got["holder"] = device.get_device()
            got["holder_cache"] = td.ops.relu_forward(np.ones(3))[1].device

    def watcher():
        inside.wait(10)
        got["watcher"] = device.get_device()
        got["watcher_cache"] = td.ops.relu_forward(np.ones(3))[1].device
        seen.set()
    _run_together([holder, watcher])
    assert got == {"holder": "reference", "holder_cache": "reference",
                   "watcher": "cpu", "watcher_cache": "cpu"}
    try:   # set_device is process-wide: a new thread sees it
        td.set_device("reference")
        seen_by_thread = []
        t = threading.Thread(target=lambda: seen_by_thread.append(device.get_device()))
        t.start()
        t.join()
        assert seen_by_thread == ["reference"]
    finally:
        td.set_device("cpu")


def test_threads_under_the_workqueue_layer_do_not_abort_the_process():
    # Numba's own OpenMP runtime loaded before tinydl makes it pick Numba's workqueue layer, which
    # aborts the process on concurrent parallel kernels: the ops then run kernels one at a time
    import os
    import subprocess
    import sys
    code = """
import ctypes; ctypes.CDLL("libgomp.so.1")
import threading, numpy as np, numba
import tinydl as td
from tinydl import layers
td.set_seed(0)
m = td.Sequential([layers.Input((3, 12, 12)), layers.Conv2D(4, 3, padding="same", activation="relu"),
                   layers.Flatten(), layers.Dense(5)])
x = np.random.default_rng(0).standard_normal((8, 3, 12, 12)).astype(np.float32)
want = m.predict(x)
bad = []
def run():
    for _ in range(20):
        bad.append(not np.array_equal(m.predict(x), want))
ts = [threading.Thread(target=run) for _ in range(2)]
[t.start() for t in ts]; [t.join() for t in ts]
print(td.THREADING, numba.threading_layer(), sum(bad), len(bad))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "NUMBA_THREADING_LAYER")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["workqueue", "workqueue", "0", "40"]
