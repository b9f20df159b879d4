"""Training on the 'cuda' device: the same losses as on 'cpu', and the data stays on the device.

A small CNN (Conv2D, BatchNormalization, ReLU, MaxPooling2D, Flatten, Dense) in float64 trains
a few steps on both devices from the same weights; the losses must agree to 1e-9. Counting
copy_to_host calls during a step checks that activations and gradients never visit the host:
only the loss comes back, a fixed number of copies per step whatever the depth of the model.
"""

import numpy as np
import pytest

import tinydl as td
from tinydl import device, layers, optimizers

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]


def _cnn(blocks=1, size=6):
    td.set_seed(0)
    stack = [layers.Input((2, size, size))]
    for _ in range(blocks):
        stack += [layers.Conv2D(3, 3, padding="same"), layers.BatchNormalization(), layers.ReLU()]
    stack += [layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(4)]
    model = td.Sequential(stack)
    model.compile(optimizer=optimizers.Adam(1e-2),
                  loss=td.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.build((2, size, size), np.float64)
    return model


def _data(n=5, size=6):
    rng = np.random.default_rng(7)
    return rng.standard_normal((n, 2, size, size)), rng.integers(0, 4, n)


def test_cnn_trains_on_cuda_like_on_cpu():
    x, y = _data()
    cpu = _cnn()
    gpu = _cnn()
    gpu.set_weights(cpu.get_weights())
    gpu.to("cuda")
    for p in gpu.weights:
        assert device.is_device_array(p.value)
    cpu_losses = [cpu.train_on_batch(x, y) for _ in range(3)]
    gpu_losses = [gpu.train_on_batch(x, y) for _ in range(3)]
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-9)
    assert cpu_losses[-1] < cpu_losses[0]
    for p in gpu.trainable_weights:              # weights and gradients stayed on the device
        assert device.is_device_array(p.value) and device.is_device_array(p.grad)
    for a, b in zip(gpu.get_weights(), cpu.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-9)   # the conv bias before BN gets ~0 gradients
    np.testing.assert_allclose(gpu.predict(x), cpu.predict(x), rtol=1e-8, atol=1e-12)


def _count_copies(monkeypatch, cls, step):
    calls = []
    original = cls.copy_to_host

    def counting(self, *args, **kwargs):
        calls.append(tuple(self.shape))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "copy_to_host", counting)
    try:
        step()
    finally:
        monkeypatch.setattr(cls, "copy_to_host", original)
    return calls


def test_host_copies_per_step_are_few_and_do_not_grow_with_depth(monkeypatch):
    x, y = _data(n=3, size=4)
    counts = {}
    for blocks in (1, 2):
        model = _cnn(blocks, size=4).to("cuda")
        model.train_on_batch(x, y)               # the first step creates the optimizer state
        cls = type(model.weights[0].value)
        step = _count_copies(monkeypatch, cls, lambda model=model: model.train_on_batch(x, y))
        fit = _count_copies(monkeypatch, cls, lambda model=model: model.fit(x, y, batch_size=3, epochs=1,
                                                                verbose=0, shuffle=False))
        model.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        with_metric = _count_copies(monkeypatch, cls, lambda model=model: model.fit(x, y, batch_size=3, epochs=1,
                                                                        verbose=0, shuffle=False))
        counts[blocks] = (step, fit, with_metric)
    for one, two in zip(counts[1], counts[2], strict=True):
        assert len(one) == len(two), counts      # nothing per layer
    step, fit, with_metric = counts[1]
    # train_on_batch and fit: the loss's per-block partial sums (one array of a few numbers);
    # the accuracy metric adds the logits of the batch
    assert len(step) == 1 and len(fit) == 1 and len(with_metric) <= 2, counts
    assert all(int(np.prod(shape)) <= 8 for shape in step + fit), counts
