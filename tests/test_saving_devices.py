"""Saving on every device: weights and optimizer state leave the device as host arrays and come
back onto the device of the model that loads them; training resumes exactly there."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers, optimizers

DEVICES = ["reference", "cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


def _model(device):
    td.set_device(device)
    td.set_seed(3)
    # a convolution first: in Numba's simulator an array uploaded from the host has a shape that
    # refuses negative indices, which the dense op's check uses (x.shape[-1])
    model = td.Sequential([layers.Input((2, 4, 4)), layers.Conv2D(3, 3, padding="same"),
                           layers.BatchNormalization(), layers.ReLU(), layers.Flatten(), layers.Dense(2)])
    model.compile(optimizers.Adam(0.05), td.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.build()
    return model


@pytest.mark.parametrize("device", DEVICES)
def test_training_resumes_exactly_on_each_device(device, tmp_path):
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(6, 2, 4, 4)).astype(np.float32), rng.integers(0, 2, 6)) for _ in range(4)]
    straight, resumed = _model(device), _model(device)
    for xb, yb in batches:
        straight.train_on_batch(xb, yb)
    for xb, yb in batches[:2]:
        resumed.train_on_batch(xb, yb)
    resumed.save(tmp_path / "m.keras")
    loaded = td.models.load_model(tmp_path / "m.keras")
    state = loaded.optimizer._state[id(loaded.weights[0])]["m"]
    assert td.device.is_device_array(state) == (device == "cuda")
    for xb, yb in batches[2:]:
        loaded.train_on_batch(xb, yb)
    for a, b in zip(straight.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
