"""Conv2D: 'same'/'valid'/explicit padding by hand, output shapes, gradcheck, weights, errors."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers


def x64(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("H,k,s,pads", [
    (8, 3, 2, (0, 1)),   # TF/Keras: total = (4-1)*2 + 3 - 8 = 1 -> 0 before, 1 after (PyTorch can't)
    (7, 3, 2, (1, 1)),   # total = (4-1)*2 + 3 - 7 = 2
    (5, 4, 1, (1, 2)),   # even kernel at stride 1: the extra one after
    (6, 1, 3, (0, 0)),   # total = max((2-1)*3 + 1 - 6, 0) = 0
])
def test_same_padding_is_tf_keras(H, k, s, pads):
    layer = layers.Conv2D(1, k, strides=s, padding="same", use_bias=False)
    x = x64(1, 1, H, H)
    out = layer(x)
    assert out.shape == (1, 1, -(-H // s), -(-H // s)) == (1,) + layer.compute_output_shape((1, H, H))
    w = layer.kernel.value[0, 0]
    xp = np.pad(x[0, 0], (pads, pads))
    want = [[(xp[i * s:i * s + k, j * s:j * s + k] * w).sum() for j in range(out.shape[3])]
            for i in range(out.shape[2])]
    np.testing.assert_allclose(out[0, 0], want, rtol=1e-12)


@pytest.mark.parametrize("padding,expected", [("valid", (4, 5, 3)), (1, (4, 7, 4)), ((0, 2), (4, 5, 5))])
def test_output_shapes(padding, expected):
    layer = layers.Conv2D(4, (3, 2), strides=(1, 2), padding=padding)
    out = layer(np.zeros((2, 3, 7, 6), np.float32))
    assert out.shape[1:] == expected == layer.compute_output_shape((3, 7, 6))
    assert out.dtype == np.float32 and layer.kernel.value.shape == (4, 3, 3, 2)


def test_gradcheck_stride_2_same_with_activation():
    assert td.gradcheck(layers.Conv2D(3, 3, strides=2, padding="same", activation="tanh"), x64(2, 2, 7, 6))


def test_gradcheck_explicit_padding_no_bias():
    assert td.gradcheck(layers.Conv2D(2, (2, 3), strides=(2, 1), padding=(1, 2), use_bias=False), x64(1, 3, 5, 5))


def test_weights_and_count():
    layer = layers.Conv2D(8, 3, input_shape=(3, 32, 32))
    layer(np.zeros((1, 3, 32, 32), np.float32))
    assert [p.shape for p in layer.weights] == [(8, 3, 3, 3), (8,)]
    assert layer.count_params() == 8 * 3 * 9 + 8
    assert layers.Conv2D(8, 3, use_bias=False).__class__ is layers.Conv2D


def test_uint8_input_works():
    layer = layers.Conv2D(2, 3, padding="same")
    out = layer(np.full((1, 3, 4, 4), 255, np.uint8))
    assert out.dtype == np.float32 and out.shape == (1, 2, 4, 4)


@pytest.mark.parametrize("kwargs,received", [
    (dict(filters=0, kernel_size=3), "filters=0"),
    (dict(filters=2.5, kernel_size=3), "filters=2.5"),
    (dict(filters=2, kernel_size=0), "kernel_size=0"),
    (dict(filters=2, kernel_size=3, strides=0), "strides=0"),
    (dict(filters=2, kernel_size=3, padding="full"), "padding='full'"),
    (dict(filters=2, kernel_size=3, padding=-1), "padding=-1"),
    (dict(filters=2, kernel_size=3, activation="mish"), "activation='mish'"),
])
def test_bad_arguments_say_what_was_received(kwargs, received):
    with pytest.raises(ValueError, match="Received|received") as err:
        layers.Conv2D(**kwargs)
    assert received in str(err.value)


def test_channel_mismatch_after_build():
    layer = layers.Conv2D(2, 3)
    layer(np.zeros((1, 3, 5, 5)))
    with pytest.raises(ValueError, match="expects 3 input channels.*received x with 4 channels"):
        layer(np.zeros((1, 4, 5, 5)))


def _count(model_layers, shape):
    """Build each layer from the shape flowing through; the sum of count_params."""
    x = np.zeros((1,) + shape)
    for layer in model_layers:
        x = layer(x)
    return sum(layer.count_params() for layer in model_layers)


def test_lenet_parameter_count():
    def lenet():
        return [layers.Conv2D(6, 5, activation="relu"), layers.MaxPooling2D(2),
                layers.Conv2D(16, 5, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(),
                layers.Dense(120, activation="relu"), layers.Dense(84, activation="relu"), layers.Dense(10)]
    # by hand: conv1 6*(1*25)+6, conv2 16*(6*25)+16, 16*5*5 -> 120, 120 -> 84, 84 -> 10
    expected = (6 * 25 + 6) + (16 * 6 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert expected == 61706
    assert _count(lenet(), (1, 32, 32)) == expected
    model = td.Sequential([layers.Input((1, 32, 32))] + lenet())
    assert model.count_params() == expected
