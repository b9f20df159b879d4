"""The command line end to end, on small sizes."""
import csv
import re
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

    from tinydl import ops, progbar
    from tinydl.kernels import cpu

    ops.relu_forward(np.ones(3, np.float32))  # compiles (or loads) a cached kernel
    assert progbar.kernels_compiled()
    monkeypatch.setattr(cpu, "__file__", str(tmp_path / "cpu" / "__init__.py"))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "empty"))
    assert not progbar.kernels_compiled()


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tinydl", *args], capture_output=True, text=True)


def test_help_shows_defaults_and_version():
    out = _cli("train", "--help").stdout
    assert "(default: 10)" in out and "(default: auto)" in out and "(default: 0.001)" in out
    import tinydl
    assert _cli("--version").stdout.strip() == f"tinydl {tinydl.__version__}"


@pytest.mark.parametrize("args,match", [
    (["--epochs", "0"], "argument --epochs: expected a positive integer; received '0'"),
    (["--batch-size", "ten"], "argument --batch-size: expected a positive integer; received 'ten'"),
    (["--lr", "-1"], "argument --lr: expected a positive finite number; received '-1'"),
    (["--lr", "nan"], "argument --lr: expected a positive finite number"),
    (["--verbose", "3"], "argument --verbose: expected auto, 0, 1 or 2; received '3'"),
    (["--schedule", "step"], "argument --schedule: invalid choice: 'step'"),
])
def test_bad_values_are_one_line_errors(args, match):
    r = _cli("train", *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert match in r.stderr.strip().splitlines()[-1]


class _Compiled(Exception):
    pass


def test_the_demo_decays_its_rate_and_train_keeps_it_unless_asked(monkeypatch):
    # the optimizer each run compiles with (the run stops there): the demo's rate is a cosine
    # decay over epochs * batches per epoch, train's the constant --lr unless --schedule cosine
    import tinydl as td
    from tinydl.models.training import Trainer
    seen = []

    def record(self, optimizer="adam", **kwargs):
        seen.append(optimizer)
        raise _Compiled

    monkeypatch.setattr(Trainer, "compile", record)
    small = ["--model", "mlp", "--epochs", "3", "--n-train", "100", "--n-test", "50", "--verbose", "0",
             "--batch-size", "25"]
    for args in (["demo", *small], ["train", *small], ["train", *small, "--schedule", "cosine"]):
        with pytest.raises(_Compiled):
            main(args)
    demo, train, train_cosine = (opt.learning_rate for opt in seen)
    assert isinstance(demo, td.optimizers.CosineDecay) and demo.decay_steps == 3 * 4
    assert train == 1e-3 and isinstance(train_cosine, td.optimizers.CosineDecay)


def test_an_existing_out_folder_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "weights.npz").write_bytes(b"earlier run")
    args = ["train", "--model", "mlp", "--epochs", "1", "--n-train", "100", "--n-test", "50",
            "--out", str(out), "--verbose", "0"]
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    assert f"--out {out} already holds weights.npz; pass --overwrite" in capsys.readouterr().err
    assert (out / "weights.npz").read_bytes() == b"earlier run"
    assert main(args + ["--overwrite"]) == 0
    assert (out / "weights.npz").read_bytes() != b"earlier run"


def test_train_without_out_picks_a_new_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["train", "--model", "mlp", "--epochs", "1", "--n-train", "100", "--n-test", "50", "--verbose", "0"]
    main(args)
    main(args)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["mlp-shapes10", "mlp-shapes10-2"]


def test_no_compile_claim_when_nothing_compiled(capsys):
    main(["demo", "--model", "mlp", "--n-train", "100", "--n-test", "50", "--epochs", "1", "--verbose", "2"])
    out = capsys.readouterr().out
    assert "compile included" not in out and "compiling kernels" not in out    # the cache is warm here
    assert re.search(r"^2/2 - \d+s - \d+(us|ms|s)/step - loss: \d\.\d{4} - accuracy: ", out, re.M), out
