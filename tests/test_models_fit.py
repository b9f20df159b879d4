"""The fit loop's options (issue 12): sample_weight, class_weight, batch_size=None,
verbose="auto", the batch hooks of callbacks, metrics_names, history keys as asked."""
import numpy as np
import pytest
from models_data import digits_like

import tinydl as td
from tinydl import callbacks, layers, optimizers


def linear(seed=0):
    td.set_seed(seed)
    return td.Sequential([layers.Input((2,), dtype=np.float64), layers.Dense(1)])


def test_sample_weight_is_keras_weighted_mean_and_scales_the_step(rng):
    x, y = rng.standard_normal((8, 2)), rng.standard_normal((8, 1))
    w = np.array([1, 0, 2, 0.5, 1, 1, 3, 0])
    model = linear()
    model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    w0 = model.get_weights()
    logs = model.evaluate(x, y, sample_weight=w, return_dict=True)
    pred = x @ w0[0] + w0[1]
    per = ((pred - y) ** 2).reshape(-1)
    assert logs["loss"] == pytest.approx(np.sum(w * per) / 8, rel=1e-12)
    model.fit(x, y, sample_weight=w, batch_size=8, epochs=1, shuffle=False, verbose=0)
    grad = x.T @ (2 * (pred - y) * w[:, None] / 8)
    np.testing.assert_allclose(w0[0] - model.get_weights()[0], 0.1 * grad, rtol=1e-9)


def test_class_weight_equals_the_matching_sample_weight():
    x, y = digits_like(96, seed=0)
    cw = {c: 1.0 + c for c in range(10)}
    a, b = td.Sequential([layers.Input((64,)), layers.Dense(10)]), td.Sequential([layers.Input((64,)), layers.Dense(10)])
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(optimizer=optimizers.SGD(0.05), loss=td.losses.SparseCategoricalCrossentropy(from_logits=True))
    ha = a.fit(x, y, class_weight=cw, epochs=2, shuffle=False, verbose=0)
    hb = b.fit(x, y, sample_weight=1.0 + y, epochs=2, shuffle=False, verbose=0)
    assert ha.history["loss"] == pytest.approx(hb.history["loss"], rel=1e-12)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    with pytest.raises(ValueError, match="no weight for classes"):
        a.fit(x, y, class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match="one weight per sample"):
        a.fit(x, y, sample_weight=np.ones(3), verbose=0)


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_") and "batch" in name:
            return lambda batch, logs=None: object.__getattribute__(self, "calls").append((name, batch))
        return object.__getattribute__(self, name)


def test_batch_hooks_are_called_for_train_test_and_predict():
    x, y = digits_like(64, seed=0)
    model = td.Sequential([layers.Input((64,)), layers.Dense(10)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rec = Recorder()
    model.fit(x, y, batch_size=None, epochs=1, validation_data=(x[:40], y[:40]), callbacks=[rec], verbose=0)
    names = [n for n, _ in rec.calls]
    assert names.count("on_train_batch_begin") == 2 and names.count("on_train_batch_end") == 2   # 64 / 32
    assert names.count("on_test_batch_begin") == 2 and names.count("on_test_batch_end") == 2     # 40 / 32
    rec.calls.clear()
    model.predict(x, batch_size=16, callbacks=[rec])
    assert [n for n, _ in rec.calls] == ["on_predict_batch_begin", "on_predict_batch_end"] * 4


def test_on_batch_end_alias_still_runs_and_a_train_batch_end_override_is_called():
    seen = []

    class Old(callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(("old", batch))

    class New(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(("new", batch, round(logs["loss"], 6) > 0))

    x, y = digits_like(64, seed=0)
    model = td.Sequential([layers.Input((64,)), layers.Dense(10)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, callbacks=[Old(), New()], verbose=0)
    assert seen == [("old", 0), ("new", 0, True), ("old", 1), ("new", 1, True)]


def test_verbose_auto_is_one_line_per_epoch_off_a_terminal(capsys):
    x, y = digits_like(64, seed=0)
    model = td.Sequential([layers.Input((64,)), layers.Dense(10)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["acc"])
    h = model.fit(x, y, epochs=2)                            # verbose="auto"; pytest's stdout is no tty
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "\r" not in out
    assert set(h.history) == {"loss", "acc"}
    assert model.metrics_names == ["loss", "acc"]


@pytest.mark.parametrize("form", [lambda y: y[:, None], lambda y: y.astype(np.float32),
                                  lambda y: y[:, None].astype(np.float64)], ids=["n1", "float", "n1_float"])
def test_sparse_labels_in_any_keras_form_train_as_integer_labels(form):
    x, y = digits_like(64, seed=0)
    models = [td.Sequential([layers.Input((64,)), layers.Dense(10, activation="softmax")]) for _ in range(2)]
    models[1].set_weights(models[0].get_weights())
    for m in models:
        m.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ha = models[0].fit(x, y, epochs=2, shuffle=False, verbose=0)
    hb = models[1].fit(x, form(y), epochs=2, shuffle=False, verbose=0)
    assert hb.history == ha.history
    for wa, wb in zip(models[0].get_weights(), models[1].get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_bad_sparse_labels_are_refused_before_any_step():
    x, y = digits_like(64, seed=0)
    model = td.Sequential([layers.Input((64,)), layers.Dense(10)])
    model.compile(optimizer="sgd", loss=td.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.get_weights()
    bad = y.astype(np.float64)
    bad[3] = 2.5
    with pytest.raises(ValueError, match="integer class indices; received a float label 2.5"):
        model.fit(x, bad, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\); received a label 10"):
        model.fit(x, np.where(np.arange(64) == 5, 10, y), epochs=1, verbose=0)
    with pytest.raises(TypeError, match="sparse labels must be integers"):
        model.fit(x, np.array(["a"] * 64), epochs=1, verbose=0)
    for w0, w1 in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)


def test_a_verbose_fit_announces_the_first_compile_once(monkeypatch, capsys):
    from tinydl import progbar

    monkeypatch.setattr(progbar, "_announced", False)
    monkeypatch.setattr(progbar, "kernels_compiled", lambda: False)
    x, y = digits_like(64, seed=0)
    model = td.Sequential([layers.Input((64,)), layers.Dense(10)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with td.device.using("cpu"):
        model.fit(x, y, epochs=1, verbose=0)
        assert "compiling kernels" not in capsys.readouterr().out      # silent fit: no note
        model.fit(x, y, epochs=1, verbose=2)
        model.fit(x, y, epochs=1, verbose=2)
    assert capsys.readouterr().out.count("compiling kernels") == 1


def test_sample_weight_weighs_each_output_of_a_graph_through_the_losses(rng):
    # two outputs, weighted samples: the loss is sum_k loss_weight_k * sum_n w[n] loss_k[n] / N
    x = rng.standard_normal((6, 2))
    inp = td.Input((2,), dtype=np.float64)
    model = td.Model(inp, [layers.Dense(1, name="a")(inp), layers.Dense(1, name="b")(inp)])
    model.compile(optimizer=optimizers.SGD(0.1), loss=["mse", "mae"], loss_weights=[1.0, 0.5])
    ya, yb = rng.standard_normal((6, 1)), rng.standard_normal((6, 1))
    w = np.array([1.0, 0.0, 2.0, 0.5, 1.0, 3.0])
    pa, pb = model.predict(x)
    logs = model.evaluate(x, [ya, yb], sample_weight=w, return_dict=True)
    want_a = np.sum(w * ((pa - ya) ** 2)[:, 0]) / 6
    want_b = np.sum(w * np.abs(pb - yb)[:, 0]) / 6
    assert logs["a_loss"] == pytest.approx(want_a, rel=1e-12)
    assert logs["b_loss"] == pytest.approx(want_b, rel=1e-12)
    assert logs["loss"] == pytest.approx(want_a + 0.5 * want_b, rel=1e-12)
