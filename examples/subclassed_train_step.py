"""A subclassed model with its own train_step, as in Keras's "customizing fit" guide.

    class RingClassifier(td.Model):   layers as attributes, call() in plain Python
    train_step(data)                  one step written out: forward under a GradientTape, the
                                      loss (cross-entropy plus an L2 penalty on the kernels,
                                      added to the gradients by hand), optimizer.apply
    metrics                           the model's own loss and accuracy trackers; fit resets
                                      them every epoch and prints what train_step returns

fit runs this train_step (not the built-in one) for every batch; evaluate runs test_step.
tinydl has no tensor autograd: the tape records the layer calls, and each layer's own backward
gives the gradients.

Run:  python examples/subclassed_train_step.py [epochs]
"""
import sys

import numpy as np

import tinydl as td
from tinydl import layers, losses, optimizers


def rings(n, seed, noise=0.08):
    """Two concentric rings (radius 0.5 and 1.0), labels 0 and 1: no line separates them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(y == 0, 0.5, 1.0) + rng.normal(0, noise, n)
    return np.c_[radius * np.cos(angle), radius * np.sin(angle)].astype(np.float32), y.astype(np.int64)


class RunningMean:
    """A metric object: the mean of the values given since reset_state."""

    def __init__(self, name):
        self.name = name
        self.reset_state()

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def update_state(self, value, n=1):
        self.total, self.count = self.total + float(value) * n, self.count + n

    def result(self):
        return self.total / max(self.count, 1)


class RingClassifier(td.Model):
    def __init__(self, hidden=32, l2=1e-4):
        super().__init__()
        self.hidden = layers.Dense(hidden, activation="relu")
        self.hidden2 = layers.Dense(hidden, activation="relu")
        self.logits = layers.Dense(2)
        self.l2 = l2
        self.loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
        self.loss_tracker, self.acc_tracker = RunningMean("loss"), RunningMean("accuracy")

    def call(self, x, training=False):
        return self.logits(self.hidden2(self.hidden(x)))

    def train_step(self, data):
        x, y = data
        with td.GradientTape() as tape:
            logits = self(x, training=True)
            loss = self.loss_fn(y, logits)
        weights = self.trainable_weights
        grads = tape.gradient(loss, weights)
        # the L2 penalty l2 * sum(W**2) on each kernel adds 2 * l2 * W to its gradient
        kernels = [p for p in weights if p.name.endswith("kernel")]
        grads = [g + 2 * self.l2 * td.to_numpy(p.value) if any(p is k for k in kernels) else g
                 for g, p in zip(grads, weights, strict=True)]
        self.optimizer.apply(grads, weights)
        self._track(loss, logits, y)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        logits = self(x, training=False)
        self._track(self.loss_fn(y, logits), logits, y)
        return {m.name: m.result() for m in self.metrics}

    def _track(self, loss, logits, y):
        self.loss_tracker.update_state(loss, len(y))
        self.acc_tracker.update_state(np.mean(td.to_numpy(logits).argmax(axis=1) == y), len(y))

    @property
    def metrics(self):
        return [self.loss_tracker, self.acc_tracker]


def main(epochs=30, n=1200, verbose="auto", seed=0):
    td.set_seed(seed)
    x, y = rings(n, seed)
    xt, yt = rings(400, seed + 1)
    model = RingClassifier()
    model.compile(optimizer=optimizers.Adam(0.01))          # no loss: train_step computes it
    history = model.fit(x, y, batch_size=32, epochs=epochs, verbose=verbose)
    return model, history, model.evaluate(xt, yt, return_dict=True)


if __name__ == "__main__":
    _, _, test = main(epochs=int(sys.argv[1]) if len(sys.argv) > 1 else 30)
    print(f"test loss {test['loss']:.3f}, test accuracy {test['accuracy']:.3f}")
