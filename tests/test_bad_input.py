"""Bad input gets a clear error (what was expected, what was received) before any kernel runs."""
import numpy as np
import pytest

import tinydl as td
from tinydl import callbacks, layers, optimizers


@pytest.fixture
def model():
    m = td.Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3)])
    m.compile(optimizer="adam", loss=td.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return m


@pytest.fixture
def no_kernels(monkeypatch):
    """Fail the test if any dense kernel is reached."""
    from tinydl import device

    def boom(*a, **k):
        raise AssertionError("a kernel ran before the input was validated")

    for dev in ("reference", "cpu"):
        mod = device.backend("dense", dev)
        monkeypatch.setattr(mod, "dense_forward", boom)


def data(n=10, features=4, classes=3):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, features)).astype(np.float32), rng.integers(0, classes, n)


def test_wrong_feature_count(model, no_kernels):
    x, y = data(features=5)
    with pytest.raises(ValueError, match=r"expected input of shape \(None, 4\); received \(\d+, 5\)"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="expected input of shape"):
        model.predict(x)


def test_x_y_length_mismatch(model, no_kernels):
    x, y = data()
    with pytest.raises(ValueError, match="received 10 in x and 9 in y"):
        model.fit(x, y[:9], verbose=0)


@pytest.mark.parametrize("bad", [3, -1])
def test_labels_outside_the_classes(model, no_kernels, bad):
    x, y = data()
    y[4] = bad
    with pytest.raises(ValueError, match=rf"labels must lie in \[0, 3\); received a label {bad}"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        model.evaluate(x, y)


def test_float_labels_for_sparse_loss(model, no_kernels):
    # integral floats (2.0) are class indices, as in Keras (API.md); 2.5 is not one, strings are no numbers
    x, y = data()
    with pytest.raises(ValueError, match=r"integer class indices; received a float label \d\.5"):
        model.fit(x, y.astype(np.float32) + 0.5, verbose=0)
    with pytest.raises(TypeError, match="sparse labels must be integers"):
        model.fit(x, y.astype(str), verbose=0)


def test_nan_input(model, no_kernels):
    x, y = data()
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"x must be finite; received nan at index \(2, 1\)"):
        model.fit(x, y, verbose=0)


def test_nan_loss_stops_fit_with_a_clear_error_and_keeps_weights(model):
    x, y = data()
    model.build()
    model.set_weights([np.full_like(w, 1e30) for w in model.get_weights()])
    before = model.get_weights()
    with pytest.raises(ValueError, match="the loss became (nan|inf) at epoch 1, batch 1"):
        model.fit(x, y, verbose=0)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_terminate_on_nan_stops_quietly(model, capsys):
    x, y = data()
    model.build()
    model.set_weights([np.full_like(w, 1e30) for w in model.get_weights()])
    h = model.fit(x, y, epochs=3, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    assert len(h.history["loss"]) == 1
    assert "terminating training" in capsys.readouterr().out


@pytest.mark.parametrize("make, message", [
    (lambda: layers.Dense(0), r"units must be a positive int. Received: units=0"),
    (lambda: layers.Dense(2.5), r"Received: units=2.5"),
    (lambda: layers.Dropout(1.0), r"Dropout: rate must be in \[0.0, 1.0\). Received: rate=1.0"),
    (lambda: layers.Dropout(-0.1), r"Received: rate=-0.1"),
    (lambda: optimizers.SGD(learning_rate=-0.1), r"learning_rate must be >= 0.0. Received: learning_rate=-0.1"),
    (lambda: optimizers.Adam(beta_1=1.0), r"beta_1 must be in \[0.0, 1.0\). Received: beta_1=1.0"),
    (lambda: optimizers.SGD(momentum=-1), r"momentum"),
    (lambda: layers.Dense(3, activation="swish2"), r"unknown activation.*received activation='swish2'"),
    (lambda: td.losses.get("hinge2"), r"unknown loss.*received 'hinge2'"),
    (lambda: optimizers.get("adamax2"), r"unknown optimizer.*received 'adamax2'"),
    (lambda: layers.Dense(3, kernel_initializer="nope").build((2,)), r"unknown initializer.*received 'nope'"),
    (lambda: layers.Input((0, 3)), r"Input: shape must be a tuple of positive ints. Received: shape=\(0, 3\)"),
])
def test_invalid_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_unknown_metric(model):
    with pytest.raises(ValueError, match="unknown metric.*received 'f1_score2'"):
        model.compile(optimizer="adam", loss="mse", metrics=["f1_score2"])


def test_bad_batch_size_and_epochs(model, no_kernels):
    x, y = data()
    with pytest.raises(ValueError, match="batch_size must be a positive int. Received: batch_size=0"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="epochs must be an int"):
        model.fit(x, y, epochs=0, verbose=0)
    with pytest.raises(ValueError, match=r"validation_split must be in \[0.0, 1.0\). Received: validation_split=1.5"):
        model.fit(x, y, validation_split=1.5, verbose=0)


def test_fit_before_compile():
    m = td.Sequential([layers.Input((4,)), layers.Dense(2)])
    with pytest.raises(RuntimeError, match="compile"):
        m.fit(*data(), verbose=0)


def test_cuda_without_gpu_or_simulator_explains(monkeypatch):
    from tinydl import device
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setattr(device, "cuda_available", lambda: False)
    with pytest.raises(RuntimeError, match="NUMBA_ENABLE_CUDASIM=1"):
        td.set_device("cuda")
    with pytest.raises(ValueError, match=r"device must be one of .*received 'tpu'"):
        td.set_device("tpu")
