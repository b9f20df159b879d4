"""Dense, the activation layers, Flatten and Dropout: values by hand and gradcheck."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers


def x64(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_dense_by_hand(dev):
    with td.device.using(dev):
        layer = layers.Dense(2)
        layer(np.zeros((1, 3)))
        layer.set_weights([np.array([[1.0, 2], [3, 4], [5, 6]]), np.array([0.5, -0.5])])
        out = layer(np.array([[1.0, 0, -1]]))
        np.testing.assert_allclose(out, [[1 - 5 + 0.5, 2 - 6 - 0.5]])
        dx = layer.backward(np.array([[1.0, 1.0]]))
        np.testing.assert_allclose(dx, [[3, 7, 11]])
        np.testing.assert_allclose(layer.kernel.grad, [[1, 1], [0, 0], [-1, -1]])
        np.testing.assert_allclose(layer.bias.grad, [1, 1])


def test_dense_acts_on_the_last_axis():
    layer = layers.Dense(4)
    out = layer(np.ones((2, 5, 3), np.float32))
    assert out.shape == (2, 5, 4) and layer.compute_output_shape((5, 3)) == (5, 4)


@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh", "gelu", "softmax", "leaky_relu"])
def test_dense_gradcheck(activation):
    assert td.gradcheck(layers.Dense(3, activation=activation), x64(4, 5) + 0.01)


@pytest.mark.parametrize("layer", [layers.ReLU(), layers.LeakyReLU(0.2), layers.Sigmoid(), layers.Tanh(), layers.GELU(), layers.Softmax()])
def test_activation_layers_gradcheck(layer):
    # shift away from relu's kink at 0, where the central difference is not a derivative
    assert td.gradcheck(layer, x64(3, 4) + 0.013)


def test_activation_values():
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(layers.ReLU()(x), [[0, 0, 3]])
    np.testing.assert_allclose(layers.LeakyReLU(0.3)(x), [[-0.6, 0, 3]])
    np.testing.assert_allclose(layers.Sigmoid()(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(layers.Softmax()(x), np.exp(x) / np.exp(x).sum())


def test_flatten_round_trip():
    f = layers.Flatten()
    x = x64(2, 3, 4, 5)
    out = f(x)
    assert out.shape == (2, 60) and f.compute_output_shape((3, 4, 5)) == (60,)
    np.testing.assert_array_equal(f.backward(out), x)


def test_dropout_layer_is_identity_in_inference_and_scales_in_training():
    d = layers.Dropout(0.5, seed=1)
    x = np.ones((200, 50))
    np.testing.assert_array_equal(d(x, training=False), x)
    out = d(x, training=True)
    kept = out != 0
    np.testing.assert_allclose(out[kept], 2.0)
    assert 0.45 < kept.mean() < 0.55
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), out)


def test_dropout_seed_repeats_the_mask_sequence():
    a, b = layers.Dropout(0.3, seed=7), layers.Dropout(0.3, seed=7)
    x = np.ones((10, 10))
    first = [a(x, training=True) for _ in range(2)]
    second = [b(x, training=True) for _ in range(2)]
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])


def test_weights_take_the_dtype_of_the_first_input():
    a, b = layers.Dense(2), layers.Dense(2)
    a(np.zeros((1, 3)))
    b(np.zeros((1, 3), np.float32))
    assert a.kernel.dtype == np.float64 and b.kernel.dtype == np.float32
    a.set_weights([np.ones((3, 2), np.float32), np.ones(2, np.float32)])
    assert a.kernel.dtype == np.float64


def test_initializers_are_seeded_and_scaled():
    td.set_seed(5)
    w1 = layers.Dense(100, input_shape=(200,))
    w1(np.zeros((1, 200), np.float32))
    td.set_seed(5)
    w2 = layers.Dense(100)
    w2(np.zeros((1, 200), np.float32))
    np.testing.assert_array_equal(w1.kernel.value, w2.kernel.value)
    limit = np.sqrt(6 / 300)
    assert np.abs(w1.kernel.value).max() <= limit and np.abs(w1.kernel.value).max() > 0.9 * limit
    he = td.initializers.he_normal((400, 300), np.float64, np.random.default_rng(0))
    assert abs(he.std() - np.sqrt(2 / 400)) < 0.05 * np.sqrt(2 / 400)


def test_variance_scaling_and_pytorchs_default():
    rng = np.random.default_rng(0)
    w = td.initializers.torch_default()((300, 200), np.float64, rng)   # Dense (in=300, units=200)
    assert np.abs(w).max() <= 1 / np.sqrt(300) and np.abs(w).max() > 0.95 / np.sqrt(300)
    k = td.initializers.torch_default()((16, 8, 3, 3), np.float64, rng)  # fan_in = 8 * 9
    assert np.abs(k).max() <= 1 / np.sqrt(72)
    n = td.initializers.VarianceScaling(2.0, "fan_avg", "normal")((400, 600), np.float64, rng)
    assert abs(n.std() - np.sqrt(2.0 / 500)) < 0.02 * np.sqrt(2.0 / 500)
    with pytest.raises(ValueError, match="mode in"):
        td.initializers.VarianceScaling(1.0, "fan_sideways")
