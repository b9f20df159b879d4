"""categorical_crossentropy: class indices are refused (pointing to the sparse loss); integer
one-hot rows are accepted, as in Keras's own loss tests (issue 9, item 8)."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers, losses


def _model():
    td.set_seed(0)
    model = td.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=td.optimizers.Adam(0.05), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(n=60):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = np.argmax(x[:, :3], axis=1)          # learnable: the largest of the first three features
    return x, y


def test_class_indices_are_refused_before_training_with_a_pointer_to_the_sparse_loss():
    x, y = _data()
    model = _model()
    model.build()
    before = [w.copy() for w in model.get_weights()]
    for call in (lambda: model.fit(x, y, epochs=1, verbose=0), lambda: model.evaluate(x, y),
                 lambda: model.train_on_batch(x, y)):
        with pytest.raises(ValueError, match=r"integer class indices of shape \(60,\).*"
                                             r"loss='sparse_categorical_crossentropy'"):
            call()
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_loss_object_refuses_indices_and_wrong_widths():
    loss = losses.CategoricalCrossentropy()
    p = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        loss(np.array([1, 0]), p)
    with pytest.raises(ValueError, match=r"3 columns.*received shape \(2, 2\)"):
        loss(np.array([[0, 1], [1, 0]]), p)


def test_integer_one_hot_equals_float_one_hot():
    p = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    ints = np.array([[0, 1, 0], [1, 0, 0]])
    loss = losses.CategoricalCrossentropy()
    expected = -(np.log(0.5) + np.log(0.6)) / 2            # hand-worked
    assert loss(ints, p) == pytest.approx(expected, rel=1e-12)
    assert loss(ints.astype(np.float64), p) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(_grad(ints, p), _grad(ints * 1.0, p), rtol=1e-12)


def _grad(y, p):
    loss = losses.CategoricalCrossentropy()
    loss(y, p)
    return loss.backward()


def test_fit_on_integer_one_hot_reports_the_true_accuracy():
    x, y = _data()
    model = _model()
    onehot = np.eye(3, dtype=np.int64)[y]
    model.fit(x, onehot, epochs=30, batch_size=20, verbose=0)
    _, acc = model.evaluate(x, onehot)
    truth = np.mean(np.argmax(model.predict(x), axis=1) == y)
    assert acc == pytest.approx(truth) and acc > 0.8
