"""The benchmark command and its workloads: unknown names refused, the same model on both sides."""
import os
import sys

import numpy as np
import pytest

from tinydl import zoo
from tinydl.__main__ import _bench_names, main

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import _twins  # noqa: E402


def test_bench_only_refuses_an_unknown_name():
    with pytest.raises(SystemExit, match="unknown benchmark 'nope'.*models, mlp"):
        main(["bench", "--only", "nope"])


def test_bench_only_accepts_short_and_full_names():
    assert _bench_names(["models", "bench_mlp"]) == ["bench_models", "bench_mlp"]
    assert _bench_names(None)[0] == "bench_models"


def test_bench_models_refuses_an_unknown_workload(capsys):
    import bench_models
    with pytest.raises(SystemExit):
        bench_models.main(["--only", "resnet"])
    assert "invalid choice: 'resnet'" in capsys.readouterr().err


@pytest.mark.parametrize("name,params", [
    ("small-cnn", 16 * 9 + 16 + 32 * 16 * 9 + 32 + 1568 * 64 + 64 + 64 * 10 + 10),
    ("mlp-784", 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10),
])
def test_zoo_benchmark_models(name, params):
    model = zoo.get(name)
    assert model.count_params() == params
    x = np.zeros((2,) + tuple(model.input_shape), np.float32)
    assert model.predict(x).shape == (2, 10)


@pytest.mark.torch
@pytest.mark.parametrize("workload", list(_twins.WORKLOADS))
def test_the_pytorch_twin_is_the_same_network(workload):
    pytest.importorskip("torch")
    ours = zoo.get(_twins.WORKLOADS[workload][0])
    ours.build()
    theirs = _twins.torch_model(workload)
    # the same number of trainable weights (batch norm's moving statistics are buffers in PyTorch)
    trainable = sum(p.size for p in ours.trainable_weights)
    assert trainable == sum(p.numel() for p in theirs.parameters())
    x, y = _twins.batch(workload)
    assert _twins.torch_step(workload, x[:4], y[:4])() > 0


@pytest.mark.parametrize("bad", ["conv2d=99", "nofamily=1", "conv2d", "layernorm=x"])
def test_bench_models_refuses_an_unknown_kernel_version(bad, capsys):
    import bench_models
    with pytest.raises(SystemExit):
        bench_models.main(["--version", bad])
    assert "expected FAMILY=N" in capsys.readouterr().err


def test_bench_models_child_runs_a_chosen_version():
    import subprocess

    import bench_models
    out = subprocess.run([sys.executable, bench_models.__file__, "--child", "tinydl", "--workload", "mlp",
                          "--repeat", "1", "--warmup", "1", "--version", "dense=2"],
                         capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    assert '"step_s"' in line and '"peak_rss_mib"' in line and '"openblas"' in line


def test_round_ratios_pair_each_rounds_children():
    import bench_models
    res = {("unset", "mlp", "tinydl"): [{"step_s": 2.0}, {"step_s": 4.0}],
           ("unset", "mlp", "torch"): [{"step_s": 3.0}, {"step_s": 2.0}]}
    assert bench_models.round_ratios(res, "mlp") == [1.5, 0.5]
