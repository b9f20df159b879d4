"""Data-parallel training on 2 and 4 ranks, each launch a subprocess of mpiexec with a timeout.

The checks themselves live in tests/distributed_checks.py (one launch runs them all: starting
ranks costs seconds on a busy machine). Skipped when mpi4py or mpiexec is absent.
"""
import csv
import os
import subprocess
import sys
import time

import pytest

pytest.importorskip("mpi4py")
from tinydl import device
from tinydl.distributed import launch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CHECKS = os.path.join(HERE, "distributed_checks.py")
try:
    launch.find_mpiexec()
except FileNotFoundError:
    pytest.skip("no mpiexec beside this Python nor on PATH", allow_module_level=True)


def _launch(args, timeout):
    """`python -m tinydl launch ...` from the repository root; (exit code, output, seconds)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tinydl", "launch", *args], cwd=ROOT, env=env, check=False,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - t0


@pytest.mark.parametrize("ranks", [2, 4])
def test_ranks_train_like_one_process(ranks):
    """collectives, ring == MPI's Allreduce, fit and a custom loop (SGD momentum + global clip,
    Adam + clip + weight decay; reduction v1-v4) == one process on the whole batch to 1e-9 with
    bit-identical ranks and global logs, rank 0's optimizer state broadcast, synchronized batch
    norm in a CNN likewise (and per-rank BN not)."""
    code, out, _ = _launch(["-n", str(ranks), CHECKS], timeout=300)
    assert code == 0, out
    for name in ("collectives", "ring", "fit", "custom_loop", "state", "sync_bn"):
        assert f"ok {name} on {ranks} ranks" in out, out


def test_a_rank_that_raises_ends_the_job_with_its_traceback():
    code, out, seconds = _launch(["-n", "2", CHECKS, "fail"], timeout=120)
    assert code != 0
    assert "Traceback" in out and "RuntimeError: rank 1 fails on purpose" in out, out
    assert seconds < 60, seconds          # the other rank waited in an allreduce: no hang


def test_launch_train_reports_and_writes_once(tmp_path):
    out_dir = tmp_path / "run"
    code, out, _ = _launch(["-n", "2", "train", "--dataset", "shapes10", "--model", "mlp", "--epochs", "2",
                            "--n-train", "256", "--n-test", "64", "--batch-size", "64",
                            "--out", str(out_dir), "--verbose", "2"], timeout=300)
    assert code == 0, out
    assert out.count("test accuracy") == 1 and out.count("Epoch 2/2") == 1 and out.count("wrote ") == 1, out
    rows = list(csv.reader((out_dir / "log.csv").open()))
    assert rows[0][0] == "epoch" and len(rows) == 3
    assert sorted(os.listdir(out_dir)) == ["curves.png", "log.csv", "weights.npz"]


@pytest.mark.cuda
@pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")
def test_cuda_arrays_are_reduced_through_the_host():
    """Collectives, gradient reductions and synchronized batch norm on cuda device arrays, on
    2 ranks (in Numba's simulator without a GPU: host staging is the tested path; NCCL is not
    wired in)."""
    code, out, _ = _launch(["-n", "2", CHECKS, "cuda"], timeout=300)
    assert code == 0, out
    assert "ok cuda on 2 ranks" in out, out
