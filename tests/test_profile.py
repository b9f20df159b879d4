"""model.profile and `python -m tinydl profile`: one row per layer, real flop counts, the
kernel version that ran, the model left as it was."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers
from tinydl.__main__ import main
from tinydl.profile import flops, format_table


def _model():
    m = td.Sequential([layers.Input((2, 6, 6)), layers.Conv2D(3, 3, padding="same", activation="relu"),
                       layers.BatchNormalization(), layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(4)])
    m.compile(optimizer="adam", loss=td.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m


def test_rows_flops_and_versions(rng):
    m = _model()
    x = rng.standard_normal((5, 2, 6, 6)).astype(np.float32)
    y = rng.integers(0, 4, 5)
    before = [w.copy() for w in m.get_weights()]
    rows = m.profile(x, y, repeat=2, torch=False, print_fn=None)
    assert [r["layer"] for r in rows] == [layer.name for layer in m.layers] + ["loss", "optimizer"]
    conv = rows[0]
    # 2 flops per multiply-add: N * F * OH * OW * C * KH * KW
    assert flops(m.layers[0], (5, 2, 6, 6), conv["output"]) == 2 * 5 * 3 * 36 * 2 * 9
    assert conv["output"] == (5, 3, 6, 6) and conv["fwd_gflops"] > 0 and conv["bwd_gflops"] > 0
    from tinydl.kernels.cpu import conv2d
    assert conv["kernel"] == f"conv2d v{conv2d.DEFAULT} + relu"
    with td.device.use_version("conv2d", 4):
        assert m.profile(x, repeat=1, torch=False, print_fn=None)[0]["kernel"] == "conv2d v4 + relu"
    assert rows[1]["kernel"].startswith("batchnorm v") and rows[3]["fwd_gflops"] is None
    assert all(r["fwd_ms"] >= 0 and r["bwd_ms"] >= 0 for r in rows)
    # weights, moving statistics, gradients and the optimizer's step count are as before
    for a, b in zip(m.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(p.grad is None for p in m.weights) and m.optimizer.iterations == 0
    text = format_table(rows)
    assert "conv2d" in text and "total" in text and "optimizer" in text


def test_dense_and_attention_flops():
    d = layers.Dense(7)
    d._ensure_built((5,), np.float32)
    assert flops(d, (3, 5), (3, 7)) == 2 * 3 * 5 * 7
    mha = layers.MultiHeadAttention(2, 4)
    mha(np.zeros((1, 3, 6), np.float32))
    # projections 2*N*L*E*(2*H*D + H*Dv) + output 2*N*L*H*Dv*E + scores and weighted sum 2*N*L*L*(H*D + H*Dv)
    assert flops(mha, (1, 3, 6), (1, 3, 6)) == 2 * 3 * 6 * 24 + 2 * 3 * 8 * 6 + 2 * 9 * 16


@pytest.mark.torch
def test_torch_columns_beside_tinydl(rng):
    pytest.importorskip("torch")
    m = _model()
    rows = m.profile(rng.standard_normal((4, 2, 6, 6)).astype(np.float32), repeat=1, print_fn=None)
    assert "torch_fwd_ms" in rows[0] and "torch_bwd_ms" in rows[2]


@pytest.mark.torch
def test_torch_columns_with_the_loss_and_optimizer_rows(rng):
    # with y the table ends in a loss row and an optimizer row, which have no torch twin
    pytest.importorskip("torch")
    m = _model()
    x = rng.standard_normal((4, 2, 6, 6)).astype(np.float32)
    rows = m.profile(x, rng.integers(0, 3, 4), repeat=1, print_fn=None)
    assert [r["layer"] for r in rows[-2:]] == ["loss", "optimizer"]
    assert "torch_fwd_ms" in rows[0] and "torch_fwd_ms" not in rows[-1]


def test_profile_command_with_torch(capsys):
    pytest.importorskip("torch")
    assert main(["profile", "--model", "small-cnn", "--batch-size", "2", "--repeat", "1"]) == 0
    assert "torch" in capsys.readouterr().out


def test_profile_command(capsys):
    assert main(["profile", "--model", "small-cnn", "--batch-size", "2", "--repeat", "1", "--no-torch"]) == 0
    out = capsys.readouterr().out
    assert "small-cnn, batch 2" in out and "conv2d v" in out and "dense" in out and "total" in out
