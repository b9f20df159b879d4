"""What `fit`, `evaluate` and `predict` iterate: arrays cut into batches, or a DataLoader (or
any iterable of (x, y) batches) used as it is."""
import numpy as np

from tinydl import random as _random
from tinydl._validate import positive_int


def check_arrays(x, y=None):
    """x (and y) as NumPy arrays of equal length, finite."""
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"x must hold at least one sample; received shape {x.shape}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(f"x must be finite; received {x[tuple(bad)]} at index {tuple(int(i) for i in bad)}")
    if y is None:
        return x, None
    y = np.asarray(y)
    if y.shape[0] != x.shape[0]:
        raise ValueError(
            f"x and y must hold the same number of samples; received {x.shape[0]} in x and {y.shape[0]} in y"
        )
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("y must be finite; received NaN or infinity")
    return x, y


class ArrayBatches:
    """Batches of (x, y) in a fresh (seeded) order each epoch when ``shuffle``."""

    def __init__(self, x, y, batch_size, shuffle):
        self.batch_size = positive_int(batch_size, "batch_size")
        self.x, self.y, self.shuffle = x, y, shuffle

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        n = len(self.x)
        order = _random.generator().permutation(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                sl = slice(start, start + self.batch_size)
                yield self.x[sl], (None if self.y is None else self.y[sl])
            else:
                idx = order[start:start + self.batch_size]
                yield self.x[idx], (None if self.y is None else self.y[idx])


def is_batch_iterable(x):
    """True for a DataLoader or any iterable of (x, y) batches; False for arrays and for
    nested lists of numbers (array data)."""
    if isinstance(x, np.ndarray) or not hasattr(x, "__iter__"):
        return False
    if isinstance(x, (list, tuple)):
        first = x[0] if len(x) else None
        return isinstance(first, (tuple, list)) and len(first) == 2 and np.ndim(first[0]) >= 1
    return True
