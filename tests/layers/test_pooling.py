"""MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D: shapes, Keras 'same', gradcheck, errors."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers


def x64(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("cls", [layers.MaxPooling2D, layers.AveragePooling2D])
@pytest.mark.parametrize("kw,expected", [
    (dict(), (3, 3, 2)),                                   # valid, stride = pool: edges drop
    (dict(padding="same"), (3, 4, 3)),                     # ceil(7/2), ceil(5/2)
    (dict(pool_size=3, strides=1), (3, 5, 3)),
    (dict(pool_size=(3, 2), strides=(2, 1), padding="same"), (3, 4, 5)),
])
def test_output_shapes(cls, kw, expected):
    layer = cls(**kw)
    out = layer(np.zeros((2, 3, 7, 5), np.float32))
    assert out.shape[1:] == expected == layer.compute_output_shape((3, 7, 5))


def test_same_average_pooling_counts_only_real_elements():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    out = layers.AveragePooling2D(2, padding="same")(x)
    # windows: [[0,1],[3,4]], [[2],[5]], [[6,7]], [[8]] (Keras/TF: the padding is not counted)
    np.testing.assert_allclose(out[0, 0], [[2.0, 3.5], [6.5, 8.0]])
    mx = layers.MaxPooling2D(2, padding="same")(-x)
    np.testing.assert_allclose(mx[0, 0], [[0.0, -2.0], [-6.0, -8.0]])   # -inf padding never wins


@pytest.mark.parametrize("layer", [layers.MaxPooling2D(3, 2, padding="same"), layers.AveragePooling2D(3, 2, padding="same"),
                                   layers.MaxPooling2D(2), layers.AveragePooling2D((2, 3), strides=1),
                                   layers.GlobalAveragePooling2D()])
def test_gradcheck(layer):
    assert td.gradcheck(layer, x64(2, 3, 7, 6))


def test_global_average_pooling():
    layer = layers.GlobalAveragePooling2D()
    x = x64(2, 3, 4, 5)
    np.testing.assert_allclose(layer(x), x.mean(axis=(2, 3)))
    assert layer.compute_output_shape((3, 4, 5)) == (3,) and layer.count_params() == 0


@pytest.mark.parametrize("cls", [layers.MaxPooling2D, layers.AveragePooling2D])
@pytest.mark.parametrize("kwargs,received", [
    (dict(pool_size=0), "pool_size=0"),
    (dict(pool_size=(2, -1)), "pool_size=(2, -1)"),
    (dict(strides=0), "strides=0"),
    (dict(padding="full"), "padding='full'"),
    (dict(padding=1), "padding=1"),
])
def test_bad_arguments_say_what_was_received(cls, kwargs, received):
    with pytest.raises(ValueError, match="Received") as err:
        cls(**kwargs)
    assert received in str(err.value)


def test_pool_larger_than_input():
    # refused at build time, before the op: the output would be (None, 1, 0, 0)
    with pytest.raises(ValueError, match=r"output shape would be \(None, 1, 0, 0\) for an input of "
                                         r"shape \(None, 1, 2, 2\).*channels-first \(NCHW\)"):
        layers.MaxPooling2D(3)(np.zeros((1, 1, 2, 2)))
