"""layers.Rescaling and ops.rescale: y = x * scale + offset on every device."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers, ops
from tinydl.datasets import DataLoader
from tinydl.device import backend


def test_hand_worked_values_and_gradient():
    x = np.array([[0, 51, 255]], np.uint8)
    y = layers.Rescaling(1 / 255)(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [[0.0, 0.2, 1.0]], rtol=1e-7)
    layer = layers.Rescaling(1 / 127.5, offset=-1.0)
    np.testing.assert_allclose(layer(x.astype(np.float64)), [[-1.0, 51 / 127.5 - 1, 1.0]], rtol=1e-12)
    np.testing.assert_allclose(layer.backward(np.ones((1, 3))), [[1 / 127.5] * 3], rtol=1e-12)


def test_gradcheck():
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    assert td.gradcheck(layers.Rescaling(-2.5, offset=0.75), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_matches_the_reference(dtype):
    x = np.random.default_rng(1).normal(size=(3, 5, 7)).astype(dtype)
    ref = backend("rescale", "reference")
    cpu = backend("rescale", "cpu")
    (got, got_cache), (want, want_cache) = cpu.rescale_forward(x, 0.3, -1.5), ref.rescale_forward(x, 0.3, -1.5)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == dtype and got_cache == want_cache == 0.3
    np.testing.assert_array_equal(cpu.rescale_backward(x, 0.3), ref.rescale_backward(x, 0.3))


def test_bad_arguments_and_foreign_cache():
    with pytest.raises(ValueError, match=r"Rescaling: scale must be a finite number|Rescaling: scale must be a number"):
        layers.Rescaling("x")
    with pytest.raises(ValueError, match=r"Rescaling: offset must be a finite number\. Received: offset=inf"):
        layers.Rescaling(1.0, offset=float("inf"))
    out, cache = ops.rescale_forward(np.ones(3, np.float32), 2.0)
    with pytest.raises(ValueError, match="shape"):
        ops.rescale_backward(np.ones(4, np.float32), cache)
    assert layers.Rescaling(0.5, 1.0).get_config()["scale"] == 0.5


def test_in_a_model_every_path_sees_the_same_numbers():
    x = np.random.default_rng(2).integers(0, 256, (6, 1, 2, 2)).astype(np.uint8)
    model = td.Sequential([layers.Input((1, 2, 2)), layers.Rescaling(1 / 255), layers.Flatten()])
    np.testing.assert_allclose(model.predict(x), x.reshape(6, 4) / 255, rtol=1e-6)
    loader = DataLoader(x, np.arange(6), batch_size=6, shuffle=False)
    np.testing.assert_array_equal(model.predict(next(iter(loader))[0]), model.predict(x))
