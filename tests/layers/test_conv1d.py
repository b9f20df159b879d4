"""Conv1D: shapes for valid/same/causal, causality, PyTorch parity, gradcheck, every device and
conv2d version (it runs through conv2d with H = 1), bad arguments."""
import numpy as np
import pytest
from helpers import kernel_cases, on

import tinydl as td
from tinydl import layers

DEVICES = [pytest.param("reference", None, id="reference")] + kernel_cases("conv2d")

def rebuilt(layer):
    """The layer made again from its config (Layer.from_config where the base class has it)."""
    cfg = layer.get_config()
    make = getattr(type(layer), "from_config", None)
    return make(cfg) if make else type(layer)(**cfg)



def x64(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("kw,expected", [
    (dict(kernel_size=3), (4, 9)), (dict(kernel_size=3, strides=2), (4, 5)),
    (dict(kernel_size=4, padding="same"), (4, 11)), (dict(kernel_size=4, strides=3, padding="same"), (4, 4)),
    (dict(kernel_size=3, padding="causal"), (4, 11)), (dict(kernel_size=3, strides=2, padding="causal"), (4, 6)),
])
def test_output_shapes(kw, expected):
    layer = layers.Conv1D(4, **kw)
    out = layer(np.zeros((2, 3, 11), np.float32))
    assert out.shape[1:] == expected == layer.compute_output_shape((3, 11))
    assert layer.kernel.shape == (4, 3, layer.kernel_size)


def test_causal_output_never_sees_the_future():
    layer = layers.Conv1D(2, 3, padding="causal")
    x = x64(1, 2, 8)
    y = layer(x)
    x2 = x.copy()
    x2[:, :, 5:] += 100.0                          # change the future from t = 5 on
    np.testing.assert_array_equal(layer(x2)[:, :, :5], y[:, :, :5])
    assert not np.allclose(layer(x2)[:, :, 5], y[:, :, 5])


@pytest.mark.torch
@pytest.mark.parametrize("dev,version", DEVICES)
@pytest.mark.parametrize("k,s,padding", [(3, 1, "valid"), (3, 2, "valid"), (5, 1, "same"), (4, 1, "causal"),
                                         (3, 2, "causal")])
def test_torch_parity(dev, version, k, s, padding):
    torch = pytest.importorskip("torch")
    x = x64(2, 3, 10)
    layer = layers.Conv1D(4, k, strides=s, padding=padding, bias_initializer="normal")
    with on(dev, "conv2d", version):
        out = td.device.to_numpy(layer(x))
        dout = x64(*out.shape, seed=1)
        dx = td.device.to_numpy(layer.backward(dout))
    tx = torch.tensor(x, requires_grad=True)
    if padding == "causal":
        tin, tpad = torch.nn.functional.pad(tx, (k - 1, 0)), 0
    else:
        tin, tpad = tx, ("same" if padding == "same" else 0)
    t = torch.nn.Conv1d(3, 4, k, stride=s, padding=tpad).double()
    t.weight.data = torch.tensor(td.device.to_numpy(layer.kernel.value))
    t.bias.data = torch.tensor(td.device.to_numpy(layer.bias.value))
    tout = t(tin)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(td.device.to_numpy(layer.kernel.grad), t.weight.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(td.device.to_numpy(layer.bias.grad), t.bias.grad.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kw", [dict(kernel_size=3, strides=2, padding="same"), dict(kernel_size=2, padding="causal"),
                                dict(kernel_size=(3,), activation="elu")])
def test_gradcheck(kw):
    assert td.gradcheck(layers.Conv1D(3, **kw), x64(2, 2, 7) + 0.01)


@pytest.mark.parametrize("kwargs,received", [
    (dict(filters=0, kernel_size=3), "filters=0"),
    (dict(filters=2, kernel_size=(3, 3)), "kernel_size=(3, 3)"),
    (dict(filters=2, kernel_size=3, strides=0), "strides=0"),
    (dict(filters=2, kernel_size=3, padding="full"), "padding='full'"),
])
def test_bad_arguments(kwargs, received):
    with pytest.raises(ValueError, match="Received") as err:
        layers.Conv1D(**kwargs)
    assert received in str(err.value)


def test_wrong_rank_and_config():
    with pytest.raises(ValueError, match=r"\(C, L\).*\(3, 4, 5\)"):
        layers.Conv1D(2, 3)(np.ones((1, 3, 4, 5)))
    layer = layers.Conv1D(2, 3, padding="causal", name="c")
    assert rebuilt(layer).get_config() == layer.get_config()


def test_glorot_uses_keras_fans():
    # Keras's Conv1D kernel (k, C, F): fan_in = C*k, fan_out = F*k -> limit sqrt(6 / ((C + F) k))
    layer = layers.Conv1D(64, 3)
    layer(np.zeros((1, 32, 8), np.float32))
    limit = np.sqrt(6 / ((32 + 64) * 3))
    assert 0.95 * limit < np.abs(layer.kernel.value).max() <= limit
