"""Keras's metric objects, worked by hand: update_state / result / reset_state / name, the
weighted form, the names the fit loop logs ("acc" stays "acc")."""
import numpy as np
import pytest

import tinydl as td
from tinydl import losses, metrics


def test_sparse_categorical_accuracy_by_hand():
    m = metrics.SparseCategoricalAccuracy(name="top1")
    probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    m.update_state(np.array([1, 1, 1]), probs)           # right, wrong, right: 2/3
    assert m.result() == pytest.approx(2 / 3) and m.name == "top1"
    m.update_state(np.array([[0.0]]), np.array([[0.6, 0.4]]))   # (N, 1) float labels: right
    assert m.result() == pytest.approx(3 / 4)
    m.reset_state()
    assert m.result() == 0.0


def test_categorical_and_binary_accuracy_by_hand():
    c = metrics.CategoricalAccuracy()
    c.update_state(np.eye(3), np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.0, 0.1, 0.9]]))
    assert c.result() == pytest.approx(2 / 3) and c.name == "categorical_accuracy"
    b = metrics.BinaryAccuracy()
    b.update_state(np.array([1, 0, 1, 0]), np.array([[0.7], [0.6], [0.4], [0.1]]))   # (N,) vs (N, 1)
    assert b.result() == pytest.approx(0.5)
    b7 = metrics.BinaryAccuracy(threshold=0.65)
    b7.update_state(np.array([1, 0]), np.array([0.7, 0.6]))
    assert b7.result() == 1.0


def test_binary_accuracy_on_logits_keeps_the_decision():
    p = np.array([0.2, 0.55, 0.7, 0.9])
    y = np.array([0, 1, 1, 0])
    logits = np.log(p / (1 - p))
    for t in (0.5, 0.6, 0.8):
        on_p, on_a = metrics.BinaryAccuracy(threshold=t), metrics.BinaryAccuracy(threshold=t, from_logits=True)
        on_p.update_state(y, p)
        on_a.update_state(y, logits)
        assert on_p.result() == on_a.result()


def test_mean_and_weights_by_hand():
    m = metrics.Mean(name="avg_loss")
    m.update_state([1.0, 2.0, 3.0])
    m.update_state(np.array([10.0]), sample_weight=np.array([3.0]))
    assert m.result() == pytest.approx((1 + 2 + 3 + 30) / 6)
    a = metrics.SparseCategoricalAccuracy()
    a.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.9, 0.1]]), sample_weight=np.array([3.0, 1.0]))
    assert a.result() == pytest.approx(0.75)


def test_fit_loop_methods_still_work():
    m = metrics.get("sparse_categorical_accuracy", losses.SparseCategoricalCrossentropy())
    m.update(np.array([0, 1]), np.array([[0.9, 0.1], [0.9, 0.1]]))
    assert m.result() == 0.5
    np.testing.assert_array_equal(m.per_sample(np.array([1]), np.array([[0.2, 0.8]])), [1.0])
    m.reset()
    assert m.result() == 0.0


@pytest.mark.parametrize("string", ["acc", "accuracy"])
def test_a_string_metric_keeps_its_name(string):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = td.Sequential([td.layers.Input((4,)), td.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=[string])
    h = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    assert set(h.history) == {"loss", string, "val_loss", f"val_{string}"}
    # the logged value is the accuracy, worked out from the predictions
    probs = model.predict(x)
    m = model.metrics[1]                    # after the loss tracker
    assert m.name == string and isinstance(m, metrics.SparseCategoricalAccuracy)
    assert h.history[f"val_{string}"][0] == pytest.approx(np.mean(probs.argmax(1) == y))


def test_a_metric_object_in_compile_logs_under_its_name():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = td.Sequential([td.layers.Input((4,)), td.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[metrics.BinaryAccuracy(name="bacc")])
    h = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    want = np.mean((model.predict(x)[:, 0] > 0.5) == (y > 0.5))
    assert h.history["val_bacc"][0] == pytest.approx(want)


def test_bad_metric_name():
    with pytest.raises(ValueError, match="unknown metric.*'acuracy'"):
        metrics.get("acuracy", losses.MeanSquaredError())
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        metrics.Mean(name="")
