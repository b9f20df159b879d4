"""Activation(name) and the activation names silu/swish, elu, selu, softplus, linear."""
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
    return np.random.default_rng(seed).normal(size=shape) * 2


@pytest.mark.parametrize("name", ["silu", "swish", "elu", "selu", "softplus", "relu", "tanh", "linear"])
def test_activation_layer_gradcheck(name):
    assert td.gradcheck(layers.Activation(name), x64(3, 5) + 0.01)


@pytest.mark.torch
@pytest.mark.parametrize("name,torch_name", [("silu", "silu"), ("swish", "silu"), ("elu", "elu"),
                                             ("selu", "selu"), ("softplus", "softplus")])
def test_activation_layer_torch_parity(name, torch_name):
    torch = pytest.importorskip("torch")
    x = x64(4, 6)
    layer = layers.Activation(name)
    out = layer(x)
    dx = layer.backward(np.ones_like(x))
    tx = torch.tensor(x, requires_grad=True)
    tout = getattr(torch.nn.functional, torch_name)(tx)
    tout.sum().backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-11)


def test_linear_is_the_identity():
    x = x64(2, 3)
    layer = layers.Activation("linear")
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)
    assert layer.get_config()["activation"] == "linear" and layer.count_params() == 0


@pytest.mark.parametrize("name", ["silu", "swish", "elu", "selu", "softplus"])
def test_dense_accepts_the_new_names(name):
    td.set_seed(0)
    d = layers.Dense(3, activation=name)
    x = x64(2, 4)
    out = d(x)
    z = x @ d.kernel.value + d.bias.value
    ref = layers.Activation(name)(z)
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    assert td.gradcheck(d, x)
    again = layers.Dense(3, activation=d.get_config()["activation"])      # the config names it
    assert type(again.activation) is type(d.activation) is type(layers.Activation(name)._fn)


def test_get_config_returns_the_constructor_arguments():
    cfg = layers.Activation("elu", name="a").get_config()
    assert cfg["name"] == "a" and cfg["activation"] == "elu"
    assert rebuilt(layers.Activation("swish")).activation == "swish"
    assert layers.ELU(alpha=0.5).get_config()["alpha"] == 0.5


@pytest.mark.parametrize("bad", ["gelu_tanh", "", 3])
def test_unknown_name_says_what_was_received(bad):
    with pytest.raises(ValueError, match="Received: activation=") as err:
        layers.Activation(bad)
    assert "silu" in str(err.value)
