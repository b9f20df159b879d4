"""Small learnable data sets for the model tests (sklearn is not installed here, and an MLP
on shapes10 needs minutes; these learn in seconds)."""
import numpy as np


def digits_like(n, seed=0, classes=10, noise=0.6):
    """An MNIST-like 10-class set of 8x8 images flattened to 64 features: each class a fixed
    random stroke pattern, each sample that pattern plus Gaussian noise."""
    protos = np.random.default_rng(1234).random((classes, 64)) > 0.6
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = protos[y].astype(np.float32) + rng.normal(0, noise, (n, 64)).astype(np.float32)
    return x, y.astype(np.int64)


def bars(n, seed=0, size=8):
    """(N, 1, size, size) images of one bar: class 0 horizontal, 1 vertical, 2 diagonal, at
    random positions, with noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 0.3, (n, 1, size, size)).astype(np.float32)
    for i, (c, k) in enumerate(zip(y, rng.integers(1, size - 1, n), strict=True)):
        if c == 0:
            x[i, 0, k, :] += 1.0
        elif c == 1:
            x[i, 0, :, k] += 1.0
        else:
            x[i, 0, np.arange(size), np.arange(size)] += 1.0
    return x, y.astype(np.int64)
