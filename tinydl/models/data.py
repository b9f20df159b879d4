"""Data plumbing of the training loop: batches of arrays or of lists / dicts of arrays,
Keras's validation split, sample and class weights (the losses weigh them: tinydl/losses.py),
the outputs of predict put back together."""
import numpy as np

from tinydl import device as _device
from tinydl._validate import finite_float, positive_int


def unpack(data):
    """(x, y, sample_weight) from a batch of 1, 2 or 3 entries (Keras's unpack_x_y_sample_weight)."""
    if not isinstance(data, tuple):
        return data, None, None
    x = data[0]
    y = data[1] if len(data) > 1 else None
    sw = data[2] if len(data) > 2 else None
    return x, y, sw


def check_weights(sw, n):
    """sample_weight as a float64 (n,) array of finite weights >= 0, or None."""
    if sw is None:
        return None
    sw = np.asarray(sw, dtype=np.float64).reshape(-1)
    if len(sw) != n:
        raise ValueError(f"sample_weight must hold one weight per sample ({n}); received {len(sw)}")
    if not np.isfinite(sw).all() or (sw < 0).any():
        raise ValueError("sample_weight must be finite and >= 0")
    return sw


def class_weights(class_weight, y):
    """Per-sample weights from a {class: weight} dict and the labels (indices or one-hot)."""
    y = np.asarray(y)
    labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(-1)
    missing = sorted(set(np.unique(labels).tolist()) - {int(k) for k in class_weight})
    if missing:
        raise ValueError(f"class_weight has no weight for classes {missing}")
    return np.array([class_weight[int(c)] for c in labels], dtype=np.float64)


def floats(logs):
    return {k: float(_device.to_numpy(v)) if hasattr(v, "shape") else float(v) for k, v in dict(logs).items()}


def take(a, idx):
    if isinstance(a, dict):
        return {k: take(v, idx) for k, v in a.items()}
    if isinstance(a, (list, tuple)):
        return [take(v, idx) for v in a]
    return None if a is None else np.asarray(a)[idx]


def batch_len(x):
    if isinstance(x, dict):
        return batch_len(next(iter(x.values())))
    if isinstance(x, (list, tuple)):
        return batch_len(x[0])
    return len(x)


def split(x, y, fraction):
    """Keras's rule: the last ``fraction`` of the samples, before any shuffling."""
    fraction = finite_float(fraction, "validation_split", 0.0, 1.0, high_open=True)
    n = batch_len(x)
    n_val = int(n * fraction)
    if fraction and n_val == 0:
        raise ValueError(f"validation_split={fraction} leaves no validation sample out of {n}")
    if n_val == 0:
        return (x, y), None
    head, tail = slice(0, n - n_val), slice(n - n_val, n)
    return (take(x, head), take(y, head)), (take(x, tail), take(y, tail))


def concat(outs):
    first = outs[0]
    if isinstance(first, dict):
        return {k: np.concatenate([_device.to_numpy(o[k]) for o in outs], axis=0) for k in first}
    if isinstance(first, (list, tuple)):
        return [np.concatenate([_device.to_numpy(o[i]) for o in outs], axis=0) for i in range(len(first))]
    return np.concatenate([_device.to_numpy(o) for o in outs], axis=0)


class StructBatches:
    """Batches of (x, y) or (x, y, sample_weight), where x and / or y may be lists or dicts of
    arrays of one length; the order is drawn as ArrayBatches draws it."""

    def __init__(self, x, y, batch_size, shuffle, sample_weight=None):
        from tinydl import random as _random

        self._rng = _random.generator
        batch_size = positive_int(batch_size, "batch_size")
        self.x, self.y, self.batch_size, self.shuffle = x, y, int(batch_size), shuffle
        self.sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self.n = batch_len(x)

    def __len__(self):
        return -(-self.n // self.batch_size)

    def __iter__(self):
        order = self._rng().permutation(self.n) if self.shuffle else np.arange(self.n)
        for start in range(0, self.n, self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.sw is None:
                yield take(self.x, idx), take(self.y, idx)
            else:
                yield take(self.x, idx), take(self.y, idx), self.sw[idx]
