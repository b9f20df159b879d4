"""Conv2DTranspose: Keras's output shapes, PyTorch parity (stride 2, "same", output_padding),
gradcheck, a Conv2D round trip of shapes, bad arguments."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers


def rebuilt(layer):
    """The layer made again from its config (Layer.from_config where the base class has it)."""
    cfg = layer.get_config()
    make = getattr(type(layer), "from_config", None)
    return make(cfg) if make else type(layer)(**cfg)



def x64(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("kw,expected", [
    (dict(kernel_size=3), (4, 7, 8)),                                     # (H-1)*s + k
    (dict(kernel_size=3, strides=2), (4, 11, 13)),                        # H*s + max(k-s, 0)
    (dict(kernel_size=2, strides=3), (4, 15, 18)),                        # k < s: H*s
    (dict(kernel_size=3, strides=2, padding="same"), (4, 10, 12)),        # H*s
    (dict(kernel_size=(4, 1), strides=(2, 1), padding="same"), (4, 10, 6)),
    (dict(kernel_size=3, strides=2, padding="same", output_padding=0), (4, 9, 11)),   # PyTorch's rule
])
def test_output_shapes(kw, expected):
    layer = layers.Conv2DTranspose(4, **kw)
    out = layer(np.zeros((2, 3, 5, 6), np.float32))
    assert out.shape[1:] == expected == layer.compute_output_shape((3, 5, 6))
    assert layer.kernel.shape == (3, 4) + layer.kernel_size                # (in, filters, kh, kw)


@pytest.mark.parametrize("k,s", [(3, 2), (4, 2), (2, 2), (1, 2), (3, 1), (5, 2)])
def test_same_is_the_inverse_shape_of_conv2d_same(k, s):
    up = layers.Conv2DTranspose(2, k, strides=s, padding="same")
    down = layers.Conv2D(3, k, strides=s, padding="same")
    x = x64(1, 3, 5, 7)
    assert down(up(x)).shape == x.shape


@pytest.mark.torch
@pytest.mark.parametrize("k,s,padding,output_padding", [
    (3, 2, "valid", None), (3, 1, "same", None), (4, 2, "same", None), (2, 2, "same", None), (1, 2, "same", None),
    (3, 2, "same", None),                         # Keras crops the odd row at the bottom: torch cannot
    (3, 2, "same", 1), (3, 3, "valid", 2), (2, 3, "valid", None)])
def test_torch_parity(k, s, padding, output_padding):
    torch = pytest.importorskip("torch")
    x = x64(2, 3, 4, 5)
    layer = layers.Conv2DTranspose(2, k, strides=s, padding=padding, output_padding=output_padding)
    out = layer(x)
    dout = x64(*out.shape, seed=1)
    dx = layer.backward(dout)
    pad = k // 2 if padding == "same" else 0
    crop = 0                          # rows/cols of torch's output to skip at the top/left
    if output_padding is None:        # Keras's sizes: torch computes the full output, we crop it
        full = torch.nn.ConvTranspose2d(3, 2, k, stride=s).double()
        crop = (k - s) // 2 if padding == "same" and k > s else 0
        if out.shape[2] > (4 - 1) * s + k:                               # k < s: torch adds output_padding
            full = torch.nn.ConvTranspose2d(3, 2, k, stride=s, output_padding=s - k).double()
    else:
        full = torch.nn.ConvTranspose2d(3, 2, k, stride=s, padding=pad, output_padding=output_padding).double()
    full.weight.data = torch.tensor(layer.kernel.value)
    full.bias.data = torch.tensor(layer.bias.value)
    tx = torch.tensor(x, requires_grad=True)
    tout = full(tx)[:, :, crop:crop + out.shape[2], crop:crop + out.shape[3]]
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(layer.kernel.grad, full.weight.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(layer.bias.grad, full.bias.grad.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kw", [dict(kernel_size=3, strides=2, padding="same"), dict(kernel_size=2, strides=3),
                                dict(kernel_size=3, activation="tanh")])
def test_gradcheck(kw):
    assert td.gradcheck(layers.Conv2DTranspose(2, **kw), x64(2, 3, 3, 4))


@pytest.mark.parametrize("kwargs,received", [
    (dict(filters=0, kernel_size=3), "filters=0"),
    (dict(filters=2, kernel_size=(3, 0)), "kernel_size=(3, 0)"),
    (dict(filters=2, kernel_size=3, strides=0), "strides=0"),
    (dict(filters=2, kernel_size=3, padding="causal"), "padding='causal'"),
    (dict(filters=2, kernel_size=3, strides=2, output_padding=2), "output_padding=2"),
])
def test_bad_arguments(kwargs, received):
    with pytest.raises(ValueError, match="Received") as err:
        layers.Conv2DTranspose(**kwargs)
    assert received in str(err.value)


def test_config_round_trip():
    layer = layers.Conv2DTranspose(np.int64(4), 3, strides=2, padding="same", activation="relu", name="up")
    cfg = layer.get_config()
    want = {"name": "up", "filters": 4, "kernel_size": (3, 3), "strides": (2, 2), "padding": "same",
            "output_padding": None, "use_bias": True, "activation": "relu"}
    assert {k: cfg[k] for k in want} == want
    assert rebuilt(layer).get_config() == cfg
