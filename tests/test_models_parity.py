"""PyTorch parity of non-linear graphs (float64, 1e-9): a residual block built with Add and a
two-input model joined with Concatenate; the forward and every gradient."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _t(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)


def _close(a, b):
    np.testing.assert_allclose(td.to_numpy(a), b.detach().numpy(), rtol=1e-9, atol=1e-11)


def test_residual_block_with_add_matches_pytorch(rng):
    inputs = td.Input((3, 6, 6), dtype=np.float64)
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="c0")(inputs)
    y = layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(x)
    y = layers.Conv2D(4, 3, padding="same", name="c2")(y)
    x = layers.ReLU()(layers.Add()([x, y]))
    out = layers.Dense(5, name="head")(layers.GlobalAveragePooling2D()(x))
    model = td.Model(inputs, out)
    xb, dout = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((2, 5))
    got = model(xb, training=True)
    model.zero_grad()
    dx = model.backward(dout)

    w = [_t(a) for a in model.get_weights()]        # c0 k, b, c1 k, b, c2 k, b, head k, b
    tx = _t(xb)
    F = torch.nn.functional
    h = F.relu(F.conv2d(tx, w[0], w[1], padding=1))
    r = F.conv2d(F.relu(F.conv2d(h, w[2], w[3], padding=1)), w[4], w[5], padding=1)
    h = F.relu(h + r)
    ref = h.mean(dim=(2, 3)) @ w[6] + w[7]
    ref.backward(torch.tensor(dout))
    _close(got, ref)
    _close(dx, tx.grad)
    for p, tw in zip(model.weights, w, strict=True):
        _close(p.grad, tw.grad)


def test_two_input_concatenate_model_matches_pytorch(rng):
    a, b = td.Input((4,), dtype=np.float64), td.Input((3,), dtype=np.float64)
    ha = layers.Dense(5, activation="tanh", name="da")(a)
    h = layers.Concatenate(axis=-1)([ha, b])
    h = layers.Dense(6, activation="relu", name="mid")(h)
    out = layers.Dense(2, name="out")(layers.Concatenate()([h, ha]))    # ha fans out
    model = td.Model([a, b], out)
    xa, xb, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 3)), rng.standard_normal((3, 2))
    got = model([xa, xb], training=True)
    dxa, dxb = model.backward(dout)

    w = [_t(v) for v in model.get_weights()]
    ta, tb = _t(xa), _t(xb)
    ha_t = torch.tanh(ta @ w[0] + w[1])
    h_t = torch.relu(torch.cat([ha_t, tb], dim=1) @ w[2] + w[3])
    ref = torch.cat([h_t, ha_t], dim=1) @ w[4] + w[5]
    ref.backward(torch.tensor(dout))
    _close(got, ref)
    _close(dxa, ta.grad)
    _close(dxb, tb.grad)
    for p, tw in zip(model.weights, w, strict=True):
        _close(p.grad, tw.grad)
