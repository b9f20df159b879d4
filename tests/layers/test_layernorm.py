"""LayerNormalization: values, weights, gradcheck, bad input."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers


def test_normalizes_the_last_axis():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(4, 5, 16)).astype(np.float32)
    ln = layers.LayerNormalization()
    y = ln(x)
    assert y.dtype == np.float32 and ln.epsilon == 1e-3
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=-1), (x.var(axis=-1) / (x.var(axis=-1) + 1e-3)), rtol=1e-4)
    assert [w.name.split("/")[-1] for w in ln.weights] == ["gamma", "beta"]
    np.testing.assert_array_equal(ln.get_weights()[0], np.ones(16))


def test_gradcheck():
    ln = layers.LayerNormalization(epsilon=1e-5)
    x = np.random.default_rng(1).normal(size=(3, 4, 6))
    ln(x)
    ln.set_weights([np.linspace(0.5, 2, 6), np.linspace(-1, 1, 6)])
    assert td.gradcheck(ln, x)


def test_bad_epsilon():
    with pytest.raises(ValueError, match="Received: epsilon=0"):
        layers.LayerNormalization(epsilon=0)
