"""BatchNormalization: weights, moving statistics, training vs inference, gradcheck, errors."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers


def x64(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (6, 7)])
def test_weights_and_moving_statistics(shape):
    bn = layers.BatchNormalization(momentum=0.9)
    x = x64(*shape) * 2 + 3
    out = bn(x, training=True)
    C = shape[1]
    assert [p.shape for p in bn.weights] == [(C,)] * 4
    assert [p.name.split("/")[-1] for p in bn.non_trainable_weights] == ["moving_mean", "moving_variance"]
    assert len(bn.trainable_weights) == 2 and bn.count_params() == 4 * C
    axes = (0, 2, 3) if len(shape) == 4 else (0,)
    np.testing.assert_allclose(bn.moving_mean.value, 0.1 * x.mean(axis=axes))
    np.testing.assert_allclose(bn.moving_variance.value, 0.9 + 0.1 * x.var(axis=axes))
    np.testing.assert_allclose(out.mean(axis=axes), 0.0, atol=1e-12)
    # inference: the moving statistics, not the batch's
    inf = bn(x, training=False)
    mm, mv = bn.moving_mean.value, bn.moving_variance.value
    shp = (1, C, 1, 1) if len(shape) == 4 else (1, C)
    np.testing.assert_allclose(inf, (x - mm.reshape(shp)) / np.sqrt(mv.reshape(shp) + 1e-3))
    np.testing.assert_allclose(bn.moving_mean.value, mm)   # unchanged by inference


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3, 3, 2), (5, 4)])
def test_gradcheck(training, shape):
    bn = layers.BatchNormalization()
    x = x64(*shape)
    bn(x, training=True)
    bn.set_weights([x64(shape[1], seed=1), x64(shape[1], seed=2), x64(shape[1], seed=3), np.full(shape[1], 0.7)])
    assert td.gradcheck(bn, x, training=training)


def test_float32_default():
    bn = layers.BatchNormalization()
    out = bn(np.ones((2, 3, 4, 4), np.uint8) * 7, training=True)
    assert out.dtype == np.float32 and bn.gamma.value.dtype == np.float32


@pytest.mark.parametrize("kwargs,received", [(dict(momentum=1.5), "momentum=1.5"), (dict(epsilon=0), "epsilon=0"),
                                             (dict(momentum="x"), "momentum='x'")])
def test_bad_arguments(kwargs, received):
    with pytest.raises(ValueError, match="Received") as err:
        layers.BatchNormalization(**kwargs)
    assert received in str(err.value)


def test_bad_rank():
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(C,\).*received input_shape \(3, 4\)"):
        layers.BatchNormalization()(np.zeros((2, 3, 4)))
