"""A small residual network in the functional API, trained on shapes10 (offline data).

    inputs (3, 16, 16) -> stem conv -> 2 residual blocks -> global average pool -> logits
    block:  y = relu(x + bn(conv(relu(bn(conv(x))))))       the skip is layers.Add

The graph is written as Keras writes it: each layer called on the tensor before it, the skip
connection an Add of two tensors. tinydl runs the graph forward in topological order and
backward in reverse, summing the two gradients that reach each block's input.

Run:  python examples/functional_resnet.py [epochs]
"""
import sys

import numpy as np

import tinydl as td
from tinydl import layers, losses, optimizers
from tinydl.datasets import shapes10


def load(n_train, n_test, size=16):
    """shapes10 scaled to [0, 1] and average-pooled from 32x32 to ``size`` x ``size``."""
    (x, y), (xt, yt) = shapes10.load_data(n_train=n_train, n_test=n_test, seed=0)
    k = 32 // size

    def shrink(a):
        return (a.reshape(len(a), 3, size, k, size, k).mean(axis=(3, 5)) / 255.0).astype(np.float32)
    return (shrink(x), y), (shrink(xt), yt)


def residual_block(x, channels):
    y = layers.Conv2D(channels, 3, padding="same", use_bias=False)(x)
    y = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(y))
    y = layers.Conv2D(channels, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization(momentum=0.9)(y)
    return layers.ReLU()(layers.Add()([x, y]))


def build(channels=16, blocks=2, input_shape=(3, 16, 16), classes=10):
    inputs = td.Input(input_shape)
    x = layers.Conv2D(channels, 3, padding="same", use_bias=False)(inputs)
    x = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x))
    for _ in range(blocks):
        x = residual_block(x, channels)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(classes)(x)
    return td.Model(inputs, outputs, name="resnet_mini")


def main(epochs=5, n_train=4000, n_test=1000, channels=16, blocks=2, verbose="auto", seed=0, data=None):
    """Train and return (model, history). ``data`` = ((x, y), (x_test, y_test)) replaces shapes10."""
    td.set_seed(seed)
    (x, y), (xt, yt) = data or load(n_train, n_test)
    model = build(channels, blocks, input_shape=x.shape[1:], classes=int(max(y.max(), yt.max())) + 1)
    model.compile(optimizer=optimizers.Adam(3e-3), loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=64, epochs=epochs, validation_data=(xt, yt), verbose=verbose)
    return model, history


if __name__ == "__main__":
    model, history = main(epochs=int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    model.summary()
    print(f"test accuracy {history.history['val_accuracy'][-1]:.3f}")
