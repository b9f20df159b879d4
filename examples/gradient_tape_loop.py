"""A training loop from scratch with td.GradientTape (Keras's "writing a training loop from
scratch"), next to fit on the same model, data and optimizer settings.

    for each batch:
        with td.GradientTape() as tape:
            logits = model(x, training=True)        # every layer call is recorded
            loss = loss_fn(y, logits)               # and the loss call
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply(grads, model.trainable_weights)

The tape records layer calls, not array operations (tinydl has no tensor autograd): gradient()
replays them in reverse, each layer's own backward giving dLoss/dInput and its weights'
gradients. With the same initial weights, batches and optimizer, the loop ends on the weights
fit ends on (to rounding), so it reaches the accuracy fit reaches.

The data: ten classes of 8x8 "digits" (a fixed random stroke pattern per class plus noise).

Run:  python examples/gradient_tape_loop.py [epochs]
"""
import sys

import numpy as np

import tinydl as td
from tinydl import layers, losses, optimizers


def digits(n, seed, noise=0.6):
    protos = np.random.default_rng(1234).random((10, 64)) > 0.6
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    return (protos[y] + rng.normal(0, noise, (n, 64))).astype(np.float32), y.astype(np.int64)


def build():
    inputs = td.Input((64,))
    x = layers.Dense(64, activation="relu")(inputs)
    return td.Model(inputs, layers.Dense(10)(x), name="mlp")


def tape_loop(model, x, y, epochs, batch_size=32, lr=3e-3, log=print):
    optimizer = optimizers.Adam(lr)
    loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
    for epoch in range(epochs):
        total = 0.0
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            with td.GradientTape() as tape:
                logits = model(xb, training=True)
                loss = loss_fn(yb, logits)
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply(grads, model.trainable_weights)
            total += loss * len(xb)
        if log:
            log(f"epoch {epoch + 1}: loss {total / len(x):.4f}")
    return model


def accuracy(model, x, y):
    return float(np.mean(model.predict(x).argmax(axis=1) == y))


def main(epochs=5, n=2000, seed=0, log=print):
    """(accuracy of the tape loop, accuracy of fit) on held-out data, same start."""
    td.set_seed(seed)
    x, y = digits(n, seed)
    xt, yt = digits(1000, seed + 1)
    by_tape, by_fit = build(), build()
    by_fit.set_weights(by_tape.get_weights())
    tape_loop(by_tape, x, y, epochs, log=log)
    by_fit.compile(optimizer=optimizers.Adam(3e-3), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    by_fit.fit(x, y, batch_size=32, epochs=epochs, shuffle=False, verbose=0)
    return accuracy(by_tape, xt, yt), accuracy(by_fit, xt, yt), (by_tape, by_fit)


if __name__ == "__main__":
    tape_acc, fit_acc, _ = main(epochs=int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    print(f"held-out accuracy: GradientTape loop {tape_acc:.3f}, fit {fit_acc:.3f}")
