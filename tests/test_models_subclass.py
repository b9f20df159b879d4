"""Subclassed models, the public GradientTape, train_step / test_step overrides."""
import numpy as np
import pytest
from models_data import digits_like

import tinydl as td
from tinydl import layers, losses, optimizers


class Net(td.Model):
    def __init__(self, hidden=32, classes=10):
        super().__init__()
        self.d1 = layers.Dense(hidden, activation="relu")
        self.d2 = layers.Dense(classes)

    def call(self, x, training=False):
        return self.d2(self.d1(x))


class NoTraining(td.Model):
    """call without a training argument, a list of layers as an attribute."""

    def __init__(self):
        super().__init__()
        self.blocks = [layers.Dense(4, activation="tanh"), layers.Dense(4, activation="tanh")]
        self.head = layers.Dense(2)

    def call(self, x):
        h = x
        for block in self.blocks:
            h = block(h)
        return self.head(h)


def test_layers_assigned_as_attributes_are_tracked_in_order():
    net = Net()
    assert [type(l).__name__ for l in net.layers] == ["Dense", "Dense"]
    out = net(np.zeros((3, 5), np.float32))
    assert out.shape == (3, 10)
    assert [p.shape for p in net.trainable_weights] == [(5, 32), (32,), (32, 10), (10,)]
    assert net.count_params() == 5 * 32 + 32 + 32 * 10 + 10
    m = NoTraining()
    assert len(m.layers) == 3
    assert m(np.zeros((2, 6))).shape == (2, 2)


def test_subclassed_backward_replays_the_calls_and_passes_gradcheck(rng):
    assert td.gradcheck(Net(8, 3), rng.standard_normal((4, 5)))
    assert td.gradcheck(NoTraining(), rng.standard_normal((3, 6)))


class Twice(td.Model):
    """The same layer called twice inside call(): one cache per call."""

    def __init__(self):
        super().__init__()
        self.d = layers.Dense(3, activation="tanh")

    def call(self, x, training=False):
        return self.d(self.d(x))


def test_a_layer_called_twice_in_call_gets_both_gradients(rng):
    assert td.gradcheck(Twice(), rng.standard_normal((2, 3)))


def test_fit_on_a_subclassed_model():
    x, y = digits_like(800, seed=0)
    net = Net()
    net.compile(optimizer=optimizers.Adam(0.003), loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["acc"])
    h = net.fit(x, y, epochs=4, verbose=0)
    assert set(h.history) == {"loss", "acc"}                # named as asked
    assert h.history["acc"][-1] > 0.9


def _tape_step(model, opt, loss_fn, xb, yb):
    with td.GradientTape() as tape:
        logits = model(xb, training=True)
        loss = loss_fn(yb, logits)
    grads = tape.gradient(loss, model.trainable_weights)
    opt.apply(grads, model.trainable_weights)
    return loss


def test_gradient_tape_loop_trains_an_mlp_exactly_as_fit_does():
    x, y = digits_like(640, seed=0)
    xt, yt = digits_like(300, seed=1)
    td.set_seed(5)
    a = td.Sequential([layers.Input((64,)), layers.Dense(32, activation="relu"), layers.Dense(10)])
    b = td.Sequential([layers.Input((64,)), layers.Dense(32, activation="relu"), layers.Dense(10)])
    b.set_weights(a.get_weights())
    a.compile(optimizer=optimizers.Adam(0.003), loss=losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    a.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    opt, loss_fn = optimizers.Adam(0.003), losses.SparseCategoricalCrossentropy(from_logits=True)
    for _ in range(3):
        for i in range(0, len(x), 32):
            _tape_step(b, opt, loss_fn, x[i:i + 32], y[i:i + 32])
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wb, wa, rtol=1e-5, atol=1e-6)
    acc_fit = np.mean(a.predict(xt).argmax(1) == yt)
    acc_tape = np.mean(b.predict(xt).argmax(1) == yt)
    assert acc_fit > 0.9 and abs(acc_tape - acc_fit) < 0.01


def test_tape_gradient_values_and_no_side_effects(rng):
    # loss = mse(y, x @ W + b): dL/dW = x^T 2 (p - y) / n, computed by hand
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    dense = layers.Dense(2)
    dense(x)
    dense.kernel.grad = "kept"
    loss_fn = losses.MeanSquaredError()
    with td.GradientTape() as tape:
        p = dense(x)
        loss = loss_fn(y, p)
    gw, gb = tape.gradient(loss, [dense.kernel, dense.bias])
    r = 2 * (td.to_numpy(p) - y) / y.size
    np.testing.assert_allclose(gw, x.T @ r, rtol=1e-6)
    np.testing.assert_allclose(gb, r.sum(0), rtol=1e-6)
    assert dense.kernel.grad == "kept"                       # the tape changed nothing
    unrelated = layers.Dense(1)
    unrelated(x)
    assert tape.gradient(loss, [unrelated.kernel]) == [None]
    with pytest.raises(ValueError, match="not computed inside this tape"):
        tape.gradient(loss * 2.0, [dense.kernel])


def test_tape_gradient_of_a_weighted_loss(rng):
    # loss = sum_n w[n] * mean_j (p - y)[n, j]^2 / N: dL/dW = x^T (2 (p - y) w[:, None] / (N * J))
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    w = np.array([1.0, 0.0, 2.0, 0.5])
    dense = layers.Dense(2)
    loss_fn = losses.MeanSquaredError()
    with td.GradientTape() as tape:
        p = dense(x)
        loss = loss_fn(y, p, sample_weight=w)
    (gw,) = tape.gradient(loss, [dense.kernel])
    r = 2 * (td.to_numpy(p) - y) * w[:, None] / y.size
    assert loss == pytest.approx(np.sum(w * ((td.to_numpy(p) - y) ** 2).mean(1)) / 4, rel=1e-12)
    np.testing.assert_allclose(gw, x.T @ r, rtol=1e-6)


def test_custom_layer_without_backward_gets_a_clear_error():
    class Square(layers.Layer):
        def call(self, x, training=False):
            return x * x

    x = td.Input((3,))
    model = td.Model(x, layers.Dense(1)(Square()(x)))
    out = model(np.ones((2, 3), np.float32), training=True)
    with pytest.raises(NotImplementedError, match="Square has no backward.*no tensor autograd"):
        model.backward(np.ones_like(out))


class CustomStep(td.Model):
    """Keras's custom-train-step guide: its own loss, trackers and metrics property."""

    def __init__(self):
        super().__init__()
        self.body = layers.Dense(16, activation="relu")
        self.head = layers.Dense(1)
        self.steps = 0
        self.loss_fn = losses.MeanSquaredError()

    def call(self, x, training=False):
        return self.head(self.body(x))

    def train_step(self, data):
        x, y = data
        with td.GradientTape() as tape:
            pred = self(x, training=True)
            loss = self.loss_fn(y, pred)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        self.steps += 1
        return {"loss": loss, "steps": self.steps}

    def test_step(self, data):
        x, y = data
        return {"loss": self.loss_fn(y, self(x)), "custom": 42.0}

    @property
    def metrics(self):
        return []


def test_fit_runs_an_overridden_train_step_and_evaluate_returns_test_step_logs(rng):
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32))
    model = CustomStep()
    model.compile(optimizer=optimizers.Adam(0.01))              # no loss: train_step has its own
    h = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert model.steps == 20                                    # 4 batches x 5 epochs
    assert h.history["steps"] == [4.0, 8.0, 12.0, 16.0, 20.0]
    assert h.history["loss"][-1] < h.history["loss"][0]
    logs = model.evaluate(x, y, batch_size=64, return_dict=True)
    assert logs["custom"] == 42.0
    assert logs["loss"] == pytest.approx(float(np.mean((model.predict(x) - y) ** 2)), rel=1e-5)


def test_default_train_step_needs_a_loss():
    net = Net()
    net.compile(optimizer="adam")
    with pytest.raises(RuntimeError, match="needs a loss"):
        net.fit(np.zeros((4, 3)), np.zeros(4, np.int64), verbose=0)


def test_assigning_a_layer_before_super_init_is_a_clear_error():
    class Early(td.Model):
        def __init__(self):
            self.d = layers.Dense(2)
            super().__init__()

    with pytest.raises(RuntimeError, match="super\\(\\).__init__\\(\\) before assigning layers"):
        Early()
