"""RandomFlip and RandomCrop: data augmentation that runs only when training.

The random choices come from tinydl.random (td.set_seed makes them repeatable) or, with
``seed=``, from the layer's own generator. The backward sends the gradient back through the
same flip or crop that the forward made.
"""
import numpy as np

from tinydl import ops
from tinydl import random as _random
from tinydl._validate import positive_int
from tinydl.layers.base import Layer
from tinydl.ops import _checks

_MODES = {"horizontal": (False, True), "vertical": (True, False), "horizontal_and_vertical": (True, True)}


class _Augmentation(Layer):
    def __init__(self, seed=None, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
            raise ValueError(f"{type(self).__name__}: seed must be None or an int >= 0. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self._rng = None if seed is None else np.random.default_rng(self.seed)
        self._cache = None

    def _generator(self):
        return self._rng if self._rng is not None else _random.generator()

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class RandomFlip(_Augmentation):
    """x (N, C, H, W) -> y of the same shape. When training, each image is mirrored left-right
    ("horizontal"), upside down ("vertical"), or each of the two independently
    ("horizontal_and_vertical", Keras's default), each with probability 1/2. At inference:
    the identity."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, input_shape=None, name=None):
        super().__init__(seed=seed, input_shape=input_shape, name=name)
        if mode not in _MODES:
            raise ValueError(f"RandomFlip: mode must be one of {sorted(_MODES)}. Received: mode={mode!r}")
        self.mode = mode

    def call(self, x, training=False):
        if not training:
            self._cache = None
            return _checks.as_float(x, "RandomFlip input")
        n = x.shape[0]
        rows_on, cols_on = _MODES[self.mode]
        rng = self._generator()
        flip_rows = rng.random(n) < 0.5 if rows_on else np.zeros(n, dtype=bool)
        flip_cols = rng.random(n) < 0.5 if cols_on else np.zeros(n, dtype=bool)
        out, self._cache = ops.flip2d_forward(x, flip_rows, flip_cols)
        return out

    def backward(self, dout):
        return dout if self._cache is None else ops.flip2d_backward(dout, self._cache)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class RandomCrop(_Augmentation):
    """x (N, C, H, W) -> y (N, C, height, width). When training, each image gets its own
    window at a uniformly random position (Keras 3 draws one position per batch; per image gives
    more variety at the same cost). At inference: the central window, top = (H - height) // 2
    and left = (W - width) // 2. Images smaller than the window are refused (Keras would resize
    them; tinydl has no resize)."""

    def __init__(self, height, width, seed=None, input_shape=None, name=None):
        super().__init__(seed=seed, input_shape=input_shape, name=name)
        self.height = positive_int(height, "height", "RandomCrop")
        self.width = positive_int(width, "width", "RandomCrop")

    def call(self, x, training=False):
        x = _checks.as_float(x, "RandomCrop input")
        _checks.ndim(x, f"{self.name} input x (N, C, H, W)", 4)
        N, _, H, W = x.shape
        if self.height > H or self.width > W:
            raise ValueError(f"{self.name}: the crop ({self.height}, {self.width}) must fit the images; "
                             f"received images of shape {tuple(x.shape)}")
        if training:
            rng = self._generator()
            top = rng.integers(0, H - self.height + 1, size=N)
            left = rng.integers(0, W - self.width + 1, size=N)
        else:
            top = np.full(N, (H - self.height) // 2)
            left = np.full(N, (W - self.width) // 2)
        out, self._cache = ops.crop2d_forward(x, top, left, self.height, self.width)
        return out

    def backward(self, dout):
        return ops.crop2d_backward(dout, self._cache)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
