"""ModelCheckpoint writes the format its file name names: .keras the whole model, .npz weights."""
import numpy as np
import pytest

import tinydl as td
from tinydl import callbacks, layers


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = td.Sequential([layers.Input((3,)), layers.Dense(4, activation="relu"), layers.Dense(2)])
    model.compile(td.optimizers.Adam(0.01), td.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model, x, y


def test_a_keras_name_writes_the_whole_model(setup, tmp_path):
    model, x, y = setup
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False,
              callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch}.keras"), monitor="loss")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-1.keras", "m-2.keras"]
    loaded = td.models.load_model(tmp_path / "m-2.keras")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.iterations == model.optimizer.iterations == 4
    assert loaded.evaluate(x, y, return_dict=True) == model.evaluate(x, y, return_dict=True)
    # and training goes on from the checkpoint exactly as it would have
    first = td.models.load_model(tmp_path / "m-1.keras")
    for xb, yb in ((x[:8], y[:8]), (x[8:], y[8:])):
        first.train_on_batch(xb, yb)
    for a, b in zip(first.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name, weights_only", [("w.npz", True), ("w.npz", False)])
def test_an_npz_name_writes_the_weights(setup, tmp_path, name, weights_only):
    model, x, y = setup
    model.fit(x, y, epochs=1, verbose=0, callbacks=[
        callbacks.ModelCheckpoint(tmp_path / name, monitor="loss", save_weights_only=weights_only)])
    fresh = td.Sequential([layers.Input((3,)), layers.Dense(4, activation="relu"), layers.Dense(2)])
    fresh.load_weights(tmp_path / name)
    for a, b in zip(fresh.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="not a tinydl model archive"):
        td.models.load_model(tmp_path / name)


@pytest.mark.parametrize("name", ["x.h5", "x.hdf5", "x.weights.h5", "x.pt", "x.pth", "x.onnx", "x", "x-{epoch}"])
def test_another_format_is_refused_before_training(name):
    with pytest.raises(ValueError, match=r"does not write .*Supported: '\.keras'.*'\.npz'"):
        callbacks.ModelCheckpoint(name)


def test_weights_only_under_a_keras_name_is_refused():
    with pytest.raises(ValueError, match="save_weights_only=True writes an .npz"):
        callbacks.ModelCheckpoint("x.keras", save_weights_only=True)
