"""Sequential end to end: learning, fusion, weights I/O, summary, the custom-loop API."""
import os

import numpy as np
import pytest

import tinydl as td
from tinydl import layers, losses, optimizers


def rings(n, seed, noise=0.08):
    """Two concentric rings (radius 0.5 and 1.0): no line separates them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(y == 0, 0.5, 1.0) + rng.normal(0, noise, n)
    x = np.c_[radius * np.cos(angle), radius * np.sin(angle)]
    return x.astype(np.float32), y.astype(np.int64)


def mlp(out=2, activation="softmax"):
    return td.Sequential([
        layers.Input((2,)),
        layers.Dense(32, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(out, activation=activation),
    ])


def test_fit_learns_two_rings_to_95_percent_validation_accuracy():
    x, y = rings(1200, seed=0)
    model = mlp()
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=30, validation_split=0.25, verbose=0)
    assert history.history["val_accuracy"][-1] >= 0.95
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 30


def test_a_linear_model_cannot_learn_rings():
    # the non-linearity is what the MLP above needs: a linear classifier stays well below 95%
    x, y = rings(1200, seed=0)
    model = td.Sequential([layers.Input((2,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:900], y[:900], batch_size=32, epochs=20, verbose=0)
    _, acc = model.evaluate(x[900:], y[900:])
    assert acc < 0.75


def test_compile_fuses_softmax_with_crossentropy_and_stays_finite_at_huge_logits():
    model = td.Sequential([layers.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert model._fused == "activation"
    model.set_weights([np.array([[1e4, -1e4], [0, 0], [0, 0]], np.float32), np.zeros(2, np.float32)])
    x = np.array([[1.0, 0, 0]], np.float32)
    loss = model.train_on_batch(x, np.array([1]))
    # logits (1e4, -1e4), label 1: the loss is 2e4 exactly, not inf
    assert loss == pytest.approx(2e4, rel=1e-6)
    assert np.isfinite(model.get_weights()[0]).all()
    # SGD(0.01) moved the bias by -lr * (p - y) = (-0.01, +0.01); predict still applies the softmax
    np.testing.assert_allclose(model.get_weights()[1], [-0.01, 0.01], rtol=1e-6)
    expected = np.exp([-0.01, 0.01]) / np.exp([-0.01, 0.01]).sum()
    np.testing.assert_allclose(model.predict(np.array([[0.0, 0, 0]], np.float32)), [expected], rtol=1e-6)


def test_fusion_with_a_separate_softmax_layer_gives_p_minus_y():
    model = td.Sequential([layers.Input((2,)), layers.Dense(3, use_bias=False), layers.Softmax()])
    model.compile(optimizer=optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    assert model._fused == "layer"
    w = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 1.0]])
    model.build(dtype=np.float64)
    model.set_weights([w])
    x = np.array([[1.0, 2.0]])
    logits = x @ w
    p = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    model.train_on_batch(x, np.array([2]))
    # dL/dW = x^T (p - y)
    expected = x.T @ (p - np.array([[0, 0, 1.0]]))
    np.testing.assert_allclose(model.trainable_weights[0].grad, expected, rtol=1e-12)


def test_custom_loop_forward_backward_matches_fit_step():
    td.set_seed(3)
    x, y = rings(64, seed=1)
    a, b = mlp(activation=None), mlp(activation=None)
    b.build()
    a.build()
    b.set_weights(a.get_weights())
    a.compile(optimizer=optimizers.SGD(0.1), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    a.train_on_batch(x, y)
    # the same step by hand
    loss_fn, opt = losses.SparseCategoricalCrossentropy(from_logits=True), optimizers.SGD(0.1)
    b.zero_grad()
    out = b.forward(x, training=True)
    loss_fn(y, out)
    dx = b.backward(loss_fn.backward())
    assert dx.shape == x.shape
    opt.step(b.trainable_weights)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)


def test_fit_accepts_an_iterable_of_batches():
    x, y = rings(256, seed=2)
    batches = [(x[i:i + 64], y[i:i + 64]) for i in range(0, 256, 64)]
    model = mlp()
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(batches, epochs=3, verbose=0, validation_data=(x, y))
    assert len(h.history["loss"]) == 3 and "val_accuracy" in h.history


def test_evaluate_returns_float_list_or_dict():
    x, y = rings(100, seed=4)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(x, y), float)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.evaluate(x, y)
    d = model.evaluate(x, y, return_dict=True)
    assert d == {"loss": loss, "accuracy": acc}
    manual = float(np.mean(np.argmax(model.predict(x), axis=1) == y))
    assert acc == pytest.approx(manual)


def test_predict_batches_cover_every_sample_in_order():
    x, _ = rings(37, seed=5)
    model = mlp()
    whole = model.predict(x, batch_size=64)
    parts = model.predict(x, batch_size=5)
    assert whole.shape == (37, 2)
    np.testing.assert_allclose(parts, whole, rtol=1e-6)
    np.testing.assert_allclose(whole.sum(axis=1), 1.0, rtol=1e-6)


def test_summary_and_count_params(capsys):
    model = td.Sequential([layers.Input((784,)), layers.Dense(512, activation="relu"),
                           layers.Dropout(0.2), layers.Dense(10)])
    # (784*512 + 512) + (512*10 + 10) = 401920 + 5130
    assert model.count_params() == 407050
    model.summary()
    text = capsys.readouterr().out
    assert "Total params: 407,050" in text
    assert "Trainable params: 407,050" in text and "Non-trainable params: 0" in text
    assert "(None, 512)" in text and "(None, 10)" in text
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dropout", "Dense"]


def test_save_load_round_trip(tmp_path):
    x, _ = rings(20, seed=6)
    a, b = mlp(), mlp()
    path = tmp_path / "w.npz"
    a.save_weights(path)
    b.load_weights(path)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    assert [f for f in os.listdir(tmp_path)] == ["w.npz"]  # no temporary file left behind


def test_load_refuses_another_architecture_and_leaves_model_unchanged(tmp_path):
    other = td.Sequential([layers.Input((2,)), layers.Dense(32), layers.Dense(2)])
    path = tmp_path / "other.npz"
    other.save_weights(path)
    model = mlp()
    model.build()
    before = model.get_weights()
    with pytest.raises(ValueError, match="holds weights of layers"):
        model.load_weights(path)
    for w0, w1 in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)
    wider = td.Sequential([layers.Input((2,)), layers.Dense(16, activation="relu"),
                           layers.Dense(32, activation="relu"), layers.Dense(2)])
    wider.save_weights(path)
    with pytest.raises(ValueError, match="shape"):
        model.load_weights(path)
    for w0, w1 in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    model = mlp()
    path = tmp_path / "w.npz"
    model.save_weights(path)
    good = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError):
        model.save_weights(path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["w.npz"]


def test_float64_input_builds_float64_weights_and_set_weights_keeps_dtype():
    model = mlp()
    model.predict(np.zeros((2, 2), np.float64))
    assert all(w.dtype == np.float64 for w in model.get_weights())
    model.set_weights([w.astype(np.float32) for w in model.get_weights()])
    assert all(w.dtype == np.float64 for w in model.get_weights())


def test_set_weights_accepts_transposed_views_and_training_continues():
    model = mlp()
    model.build()
    model.set_weights([np.asfortranarray(w) if w.ndim == 2 else w for w in model.get_weights()])
    assert all(p.value.flags.c_contiguous for p in model.weights)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = rings(8, seed=1)
    assert np.isfinite(model.train_on_batch(x, y))


def test_layers_excludes_input_and_trainable_weights_are_parameters():
    model = mlp()
    model.build()
    assert len(model.layers) == 3
    assert all(isinstance(p, td.Parameter) for p in model.trainable_weights)
    assert [p.shape for p in model.trainable_weights] == [(2, 32), (32,), (32, 32), (32,), (32, 2), (2,)]


def test_fit_can_resume_from_initial_epoch():
    x, y = rings(64, seed=7)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    h = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert h.epoch == [3, 4]


def test_binary_crossentropy_with_final_sigmoid_is_fused():
    x, y = rings(400, seed=8)
    model = td.Sequential([layers.Input((2,)), layers.Dense(32, activation="relu"),
                           layers.Dense(32, activation="relu"), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    assert model._fused == "activation"
    h = model.fit(x, y.reshape(-1, 1).astype(np.float32), epochs=20, verbose=0)
    assert h.history["accuracy"][-1] > 0.9
    p = model.predict(x)  # probabilities: the sigmoid is applied outside training
    assert ((p >= 0) & (p <= 1)).all() and p.min() < 0.1 and p.max() > 0.9


def test_verbose_fit_prints_epochs_and_metrics(capsys):
    x, y = rings(64, seed=9)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=1, validation_split=0.25)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "loss:" in out and "val_accuracy:" in out and "/step" in out
