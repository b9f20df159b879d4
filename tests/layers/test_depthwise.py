"""DepthwiseConv2D and SeparableConv2D: shapes, parameter counts, PyTorch parity, gradcheck,
every device, bad arguments."""
import numpy as np
import pytest
from helpers import kernel_cases, on

import tinydl as td
from tinydl import layers

DEVICES = [pytest.param("reference", None, id="reference")] + kernel_cases("depthwise_conv2d")

def rebuilt(layer):
    """The layer made again from its config (Layer.from_config where the base class has it)."""
    cfg = layer.get_config()
    make = getattr(type(layer), "from_config", None)
    return make(cfg) if make else type(layer)(**cfg)



def x64(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("kw,expected", [(dict(kernel_size=3), (3, 5, 4)),
                                         (dict(kernel_size=3, padding="same", strides=2), (3, 4, 3)),
                                         (dict(kernel_size=(3, 1), depth_multiplier=2), (6, 5, 6))])
def test_depthwise_shapes(kw, expected):
    layer = layers.DepthwiseConv2D(**kw)
    out = layer(np.zeros((2, 3, 7, 6), np.float32))
    assert out.shape[1:] == expected == layer.compute_output_shape((3, 7, 6))


def test_parameter_counts_follow_the_formula():
    # C = 16, filters 32, 3x3: full 16*32*9 = 4608; separable 16*9 + 16*32 = 656 = 4608 * (1/32 + 1/9)
    x = np.zeros((1, 16, 8, 8), np.float32)
    full = layers.Conv2D(32, 3, use_bias=False)
    sep = layers.SeparableConv2D(32, 3, use_bias=False)
    full(x), sep(x)
    assert full.count_params() == 4608 and sep.count_params() == 656
    assert sep.count_params() == pytest.approx(full.count_params() * (1 / 32 + 1 / 9))
    dw = layers.DepthwiseConv2D(3, depth_multiplier=2)
    dw(x)
    assert dw.count_params() == 16 * 2 * 9 + 16 * 2


@pytest.mark.torch
@pytest.mark.parametrize("dev,version", DEVICES)
@pytest.mark.parametrize("M,strides,padding", [(1, 1, "same"), (2, 2, "valid")])
def test_depthwise_torch_parity(dev, version, M, strides, padding):
    torch = pytest.importorskip("torch")
    x = x64(2, 3, 6, 5)
    layer = layers.DepthwiseConv2D(3, strides=strides, padding=padding, depth_multiplier=M,
                                   bias_initializer="normal")
    with on(dev, "depthwise_conv2d", version):
        out = td.device.to_numpy(layer(x))
        dout = x64(*out.shape, seed=1)
        dx = td.device.to_numpy(layer.backward(dout))
    t = torch.nn.Conv2d(3, 3 * M, 3, stride=strides, padding="same" if padding == "same" else 0, groups=3).double()
    t.weight.data = torch.tensor(td.device.to_numpy(layer.kernel.value))
    t.bias.data = torch.tensor(td.device.to_numpy(layer.bias.value))
    tx = torch.tensor(x, requires_grad=True)
    tout = t(tx)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(td.device.to_numpy(layer.kernel.grad), t.weight.grad.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.torch
def test_separable_torch_parity():
    torch = pytest.importorskip("torch")
    x = x64(2, 3, 7, 6)
    layer = layers.SeparableConv2D(4, 3, padding="same", depth_multiplier=2, bias_initializer="normal")
    out = layer(x)
    dout = x64(*out.shape, seed=1)
    dx = layer.backward(dout)
    depth = torch.nn.Conv2d(3, 6, 3, padding="same", groups=3, bias=False).double()
    point = torch.nn.Conv2d(6, 4, 1).double()
    depth.weight.data = torch.tensor(layer.depthwise_kernel.value)
    point.weight.data = torch.tensor(layer.pointwise_kernel.value)
    point.bias.data = torch.tensor(layer.bias.value)
    tx = torch.tensor(x, requires_grad=True)
    tout = point(depth(tx))
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(layer.depthwise_kernel.grad, depth.weight.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(layer.pointwise_kernel.grad, point.weight.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(layer.bias.grad, point.bias.grad.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("layer", [layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2),
                                   layers.SeparableConv2D(3, (2, 3), activation="tanh")])
def test_gradcheck(layer):
    assert td.gradcheck(layer, x64(2, 2, 5, 6))


@pytest.mark.parametrize("cls,kwargs,received", [
    (layers.DepthwiseConv2D, dict(kernel_size=0), "kernel_size=0"),
    (layers.DepthwiseConv2D, dict(kernel_size=3, depth_multiplier=0), "depth_multiplier=0"),
    (layers.DepthwiseConv2D, dict(kernel_size=3, padding="full"), "padding='full'"),
    (layers.SeparableConv2D, dict(filters=0, kernel_size=3), "filters=0"),
    (layers.SeparableConv2D, dict(filters=2, kernel_size=3, strides=(1, 0)), "strides=(1, 0)"),
])
def test_bad_arguments(cls, kwargs, received):
    with pytest.raises(ValueError, match="Received") as err:
        cls(**kwargs)
    assert received in str(err.value)


def test_config_round_trip():
    for layer in (layers.DepthwiseConv2D(3, depth_multiplier=2, name="d"), layers.SeparableConv2D(4, 3, name="s")):
        assert rebuilt(layer).get_config() == layer.get_config()


def test_glorot_uses_keras_fans():
    # Keras's depthwise kernel (kh, kw, C, M): fan_in = C*kh*kw, fan_out = M*kh*kw
    layer = layers.DepthwiseConv2D(3, depth_multiplier=4)
    layer(np.zeros((1, 16, 5, 5), np.float32))
    limit = np.sqrt(6 / ((16 + 4) * 9))
    assert layer.kernel.shape == (64, 1, 3, 3)
    assert 0.9 * limit < np.abs(layer.kernel.value).max() <= limit
