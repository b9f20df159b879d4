"""Reshape, UpSampling2D, GlobalMaxPooling2D: shapes, hand-worked values, gradcheck, PyTorch
parity, every device, bad arguments."""
import numpy as np
import pytest
from helpers import kernel_cases, on

import tinydl as td
from tinydl import layers

DEVICES = [pytest.param("reference", None, id="reference")] + kernel_cases("pool2d")

def rebuilt(layer):
    """The layer made again from its config (Layer.from_config where the base class has it)."""
    cfg = layer.get_config()
    make = getattr(type(layer), "from_config", None)
    return make(cfg) if make else type(layer)(**cfg)



def x64(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("target,expected", [((4, 6), (4, 6)), ((-1, 3), (8, 3)), ((2, -1, 2), (2, 6, 2)), (24, (24,))])
def test_reshape_shapes_and_values(target, expected):
    x = x64(2, 2, 3, 4)
    layer = layers.Reshape(target)
    out = layer(x)
    assert out.shape == (2,) + expected == (2,) + layer.compute_output_shape((2, 3, 4))
    np.testing.assert_array_equal(out, x.reshape((2,) + expected))
    np.testing.assert_array_equal(layer.backward(out), x)
    assert td.gradcheck(layers.Reshape(target), x)


@pytest.mark.parametrize("bad", [(0, 3), (-1, -1), (2.0, 3), "ab", (), (-2, 3)])
def test_reshape_bad_target_says_what_was_received(bad):
    with pytest.raises(ValueError, match="Received: target_shape="):
        layers.Reshape(bad)


def test_reshape_size_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, -1\)"):
        layers.Reshape((5, -1))(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"12 values.*\(5, 2\)"):
        layers.Reshape((5, 2))(np.ones((2, 3, 4)))


def test_reshape_config_round_trip():
    layer = layers.Reshape((-1, 3), name="r")
    cfg = layer.get_config()
    assert cfg["name"] == "r" and cfg["target_shape"] == (-1, 3)
    assert rebuilt(layer).target_shape == (-1, 3)


@pytest.mark.parametrize("size", [2, (2, 3), (1, 1)])
def test_upsampling_layer(size):
    layer = layers.UpSampling2D(size)
    x = x64(2, 3, 4, 5)
    out = layer(x)
    sh, sw = (size, size) if isinstance(size, int) else size
    assert out.shape[1:] == (3, 4 * sh, 5 * sw) == layer.compute_output_shape((3, 4, 5))
    np.testing.assert_array_equal(out, x.repeat(sh, 2).repeat(sw, 3))
    assert td.gradcheck(layers.UpSampling2D(size), x)
    assert rebuilt(layer).size == (sh, sw)


@pytest.mark.parametrize("kwargs,received", [(dict(size=0), "size=0"), (dict(size=(2, -1)), "size=(2, -1)"),
                                             (dict(interpolation="bilinear"), "interpolation='bilinear'")])
def test_upsampling_bad_arguments(kwargs, received):
    with pytest.raises(ValueError, match="Received") as err:
        layers.UpSampling2D(**kwargs)
    assert received in str(err.value)


@pytest.mark.parametrize("dev,version", DEVICES)
def test_global_max_pooling_ties_go_to_the_first_maximum(dev, version):
    x = np.array([[[[1.0, 5.0, 2.0], [5.0, 0.0, 5.0]]]])        # three tied maxima
    layer = layers.GlobalMaxPooling2D()
    with on(dev):
        out = layer(x)
        dx = layer.backward(np.array([[2.0]]))
    np.testing.assert_array_equal(td.device.to_numpy(out), [[5.0]])
    np.testing.assert_array_equal(td.device.to_numpy(dx)[0, 0], [[0, 2, 0], [0, 0, 0]])


@pytest.mark.torch
@pytest.mark.parametrize("dev,version", DEVICES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_max_pooling_torch_parity(dev, version, keepdims):
    torch = pytest.importorskip("torch")
    x = x64(2, 3, 5, 4)
    layer = layers.GlobalMaxPooling2D(keepdims=keepdims)
    dout = x64(2, 3, *((1, 1) if keepdims else ()), seed=1)
    with on(dev):
        out = td.device.to_numpy(layer(x))
        dx = td.device.to_numpy(layer.backward(dout))
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.amax(tx, dim=(2, 3), keepdim=keepdims)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-15)
    assert out.shape[1:] == layer.compute_output_shape((3, 5, 4))


def test_global_max_pooling_gradcheck_and_config():
    assert td.gradcheck(layers.GlobalMaxPooling2D(), x64(2, 3, 4, 5))
    assert rebuilt(layers.GlobalMaxPooling2D(keepdims=True, name="g")).keepdims is True
    with pytest.raises(ValueError, match="Received: keepdims=1"):
        layers.GlobalMaxPooling2D(keepdims=1)
