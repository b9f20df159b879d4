"""The command line end to end, on small sizes."""
import csv
import subprocess
import sys

import pytest
from PIL import Image

from tinydl.__main__ import main


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "tinydl", "--help"], capture_output=True, text=True, check=True).stdout
    assert "demo" in out and "train" in out and "bench" in out


@pytest.mark.slow
def test_demo_trains_and_reports_test_accuracy(capsys):
    assert main(["demo", "--n-train", "300", "--n-test", "100", "--epochs", "1", "--batch-size", "50"]) == 0
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "test accuracy" in out


@pytest.mark.slow
def test_train_writes_weights_log_and_plot(tmp_path, capsys):
    out_dir = tmp_path / "run"
    main(["train", "--dataset", "shapes10", "--model", "mlp", "--epochs", "2", "--n-train", "200",
          "--n-test", "100", "--batch-size", "50", "--out", str(out_dir), "--verbose", "0"])
    rows = list(csv.reader((out_dir / "log.csv").open()))
    assert rows[0][0] == "epoch" and "val_accuracy" in rows[0] and len(rows) == 3
    image = Image.open(out_dir / "curves.png")
    assert image.format == "PNG" and image.size[0] > image.size[1]
    from tinydl import zoo
    model = zoo.get("mlp")
    model.load_weights(out_dir / "weights.npz")
    assert model.count_params() == 3 * 32 * 32 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10
    assert "wrote" in capsys.readouterr().out


def test_compile_notice_only_when_the_cache_is_empty(tmp_path, monkeypatch):
    import numpy as np

    from tinydl import __main__ as cli
    from tinydl import ops
    from tinydl.kernels import cpu

    ops.relu_forward(np.ones(3, np.float32))  # compiles (or loads) a cached kernel
    assert cli._kernels_compiled()
    monkeypatch.setattr(cpu, "__file__", str(tmp_path / "cpu" / "__init__.py"))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "empty"))
    assert not cli._kernels_compiled()
