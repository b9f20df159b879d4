"""DataLoader: mini-batches of (x float32, y) from in-memory arrays, shuffled and augmented.

    loader = DataLoader(x_train, y_train, batch_size=128, augment="crop_flip", normalize="cifar10", seed=0)
    for xb, yb in loader:      # one epoch: every sample exactly once
        ...
    len(loader)                # batches per epoch

Each epoch draws a new permutation from the loader's own generator, so a given seed reproduces the
whole sequence of epochs (seed=None takes one from tinydl.set_seed's stream). Every batch is built
by one Numba kernel (_augment.gather_crop_flip): gather the rows, random-crop (zero padding 4) and
mirror when augmenting, then scale and normalize.

Pixel scale, one rule for all of tinydl: nothing is rescaled because of its dtype. Integer
images come out as float32 of the same values (0..255), exactly as fit / evaluate / predict /
validation_data see plain arrays. Scaling is always asked for, either in the model
(layers.Rescaling(1 / 255): every path then agrees) or here, by name:

    normalize=None        x as given (as float32)
    normalize="unit"      x / 255: pixel values 0..255 -> [0, 1]
    normalize="cifar10"   (x / 255 - mean) / std per channel, with the CIFAR-10 training set's
                          statistics (cifar10.MEAN, cifar10.STD): pixel values 0..255 in

Both named options take pixel values 0..255, whatever the dtype. A loader that normalizes
feeds the model other numbers than the raw test arrays would: evaluate and validate through a
loader with the same ``normalize`` (or scale in the model instead).

Sharding for data-parallel training, shard=(rank, world): every rank draws the same shuffled order
of each epoch from ``seed`` (the same order for every world size), pads it by wrapping around to a
multiple of ``world``, and takes positions rank, rank + world, rank + 2 world, ... So every rank
runs the same number of batches (uneven counts hang a collective), and the union of the ranks'
batches at step t is the single-process batch t of batch_size * world (the padded repeats aside).
Augmentation draws from a generator of its own per rank (rank 0: from ``seed`` itself).
"""
import numpy as np

from tinydl import random as _random
from tinydl._validate import is_int, nonnegative_int, positive_int
from tinydl.datasets import _augment
from tinydl.datasets.cifar10 import MEAN as CIFAR10_MEAN
from tinydl.datasets.cifar10 import STD as CIFAR10_STD

AUGMENTS = (None, "crop_flip")
NORMALIZES = (None, "unit", "cifar10")
CROP_PADDING = 4
FLIP_PROBABILITY = 0.5

__all__ = ["DataLoader"]


class DataLoader:
    """Iterable of ``(x_batch float32, y_batch)`` pairs over ``x``, ``y`` (see the module docstring).

    x: (N, ...) array; NCHW (N, C, H, W) when ``augment`` or ``normalize`` is used.
    y: (N, ...) targets; integer labels come out as int64, other targets keep their dtype.
    batch_size: samples per batch; the last batch is smaller unless ``drop_last``.
    shuffle: a new random order every epoch (else the order of ``x``).
    augment: None or "crop_flip" (random crop after zero padding 4, horizontal flip with p=0.5).
    normalize: None (x as given), "unit" (x / 255) or "cifar10" ((x / 255 - mean) / std per channel).
    seed: seeds shuffling and augmentation; None draws one from tinydl's global stream.
    shard: None, or (rank, world): this rank's share of every epoch (see the module docstring).
    """

    def __init__(self, x, y, batch_size=128, shuffle=True, augment=None, normalize=None,
                 drop_last=False, seed=None, shard=None):
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim < 1 or y.ndim < 1:
            raise ValueError(f"x and y must be arrays with a batch axis; received shapes {x.shape} and {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"x and y must hold the same number of samples; received len(x)={len(x)}, len(y)={len(y)}")
        if x.dtype == np.bool_ or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
            raise TypeError(f"x must be an integer or float array; received dtype {x.dtype}")
        batch_size = positive_int(batch_size, "batch_size", "DataLoader")
        if augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {AUGMENTS}; received augment={augment!r}")
        if normalize not in NORMALIZES:
            raise ValueError(f"normalize must be one of {NORMALIZES}; received normalize={normalize!r}")
        for name, value in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False; received {name}={value!r}")
        seed = None if seed is None else nonnegative_int(seed, "seed", "DataLoader")
        if augment is not None and x.ndim != 4:
            raise ValueError(f"augment={augment!r} needs NCHW images (N, C, H, W); received x of shape {x.shape}")
        if normalize == "cifar10" and (x.ndim != 4 or x.shape[1] != 3):
            raise ValueError(f"normalize='cifar10' needs NCHW images with 3 channels (N, 3, H, W); "
                             f"received x of shape {x.shape}")

        self.shard = _check_shard(shard, seed, shuffle)

        # the kernel reads x as (N, C, H, W): other shapes are viewed as (N, 1, 1, features)
        self.x = np.ascontiguousarray(x if x.dtype != np.float16 else x.astype(np.float32))
        self.y = y.astype(np.int64) if np.issubdtype(y.dtype, np.integer) else y
        self._x4 = self.x if x.ndim == 4 else self.x.reshape(len(x), 1, 1, -1)
        channels = self._x4.shape[1]
        self.batch_size = int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.augment, self.normalize = augment, normalize
        self.seed = int(seed) if seed is not None else _random.new_seed()
        self._rng = np.random.default_rng(self.seed)
        if self.shard is not None:
            # one order for all ranks (self._order_rng), augmentation per rank (self._rng)
            self._order_rng = np.random.default_rng(self.seed)
            self._rng = np.random.default_rng(_rank_seed(self.seed, self.shard[0]))
        self._scale = 1.0 if normalize is None else 1.0 / 255.0      # the rule: never by dtype
        if normalize == "cifar10":
            self._mean = np.array(CIFAR10_MEAN, np.float64)
            self._inv_std = 1.0 / np.array(CIFAR10_STD, np.float64)
        else:
            self._mean, self._inv_std = np.zeros(channels), np.ones(channels)

    def __len__(self) -> int:
        n, b = self._samples_per_rank(), self.batch_size
        return n // b if self.drop_last else (n + b - 1) // b

    def _samples_per_rank(self) -> int:
        n = len(self.x)
        if self.shard is None:
            return n
        world = self.shard[1]
        return n // world if self.drop_last else -(-n // world)

    @property
    def num_samples(self) -> int:
        return len(self.x)

    def __iter__(self):
        n = len(self.x)
        if self.shard is None:
            order = self._rng.permutation(n) if self.shuffle else np.arange(n, dtype=np.int64)
        else:
            order = self._shard_order(n)
        for k in range(len(self)):
            idx = np.ascontiguousarray(order[k * self.batch_size:(k + 1) * self.batch_size], dtype=np.int64)
            yield self._batch(idx), self.y[idx]

    def _shard_order(self, n):
        """This rank's positions of the epoch's shared order, padded (or cut, drop_last) to an
        equal count on every rank."""
        rank, world = self.shard
        order = self._order_rng.permutation(n) if self.shuffle else np.arange(n, dtype=np.int64)
        total = self._samples_per_rank() * world
        if total > n:                                   # wrap around: the first samples again
            order = np.concatenate([order, np.resize(order, total - n)])
        return order[:total][rank::world]

    def _batch(self, idx):
        """float32 batch of the samples ``idx``, augmented when asked (draws from the loader's rng)."""
        b = len(idx)
        if self.augment == "crop_flip":
            pad = CROP_PADDING
            dy = self._rng.integers(0, 2 * pad + 1, b)
            dx = self._rng.integers(0, 2 * pad + 1, b)
            flip = self._rng.random(b) < FLIP_PROBABILITY
        else:
            pad, dy, dx, flip = 0, np.zeros(b, np.int64), np.zeros(b, np.int64), np.zeros(b, np.bool_)
        out = np.empty((b,) + self._x4.shape[1:], np.float32)
        _augment.gather_crop_flip(self._x4, idx, dy, dx, flip, pad, self._scale, self._mean, self._inv_std, out)
        return out.reshape((b,) + self.x.shape[1:])

    def __repr__(self):
        return (f"DataLoader({len(self.x)} samples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"augment={self.augment!r}, normalize={self.normalize!r}, drop_last={self.drop_last}, "
                f"seed={self.seed}" + ("" if self.shard is None else f", shard={self.shard}") + ")")


def _check_shard(shard, seed, shuffle):
    """shard: None or (rank, world) with 0 <= rank < world; sharded shuffling needs a seed (the
    same on every rank, so that the ranks share one order)."""
    if shard is None:
        return None
    ok = isinstance(shard, (tuple, list)) and len(shard) == 2 and all(is_int(v) for v in shard)
    if not ok or not 0 <= shard[0] < shard[1]:
        raise ValueError(f"DataLoader: shard must be (rank, world) with 0 <= rank < world. Received: shard={shard!r}")
    rank, world = int(shard[0]), int(shard[1])
    if world > 1 and shuffle and seed is None:
        raise ValueError("DataLoader: shard with shuffle needs a seed, the same on every rank, so that the "
                         f"ranks share one order. Received: seed=None, shard={shard!r}")
    return rank, world


def _rank_seed(seed, rank):
    """``seed`` on rank 0, an independent stream on the others (as tinydl.distributed.rank_seed)."""
    if rank == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(rank)]).generate_state(1, np.uint64)[0] >> 1)
