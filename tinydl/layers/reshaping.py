"""Reshape and UpSampling2D: layers that move values without learning anything."""
import math

from tinydl import ops
from tinydl._validate import is_int, pair
from tinydl.layers.base import Layer
from tinydl.ops import _checks


class Reshape(Layer):
    """x (N, *input_shape) -> y (N, *target_shape), the same values in the same (C) order.

    ``target_shape`` excludes the batch axis; one entry may be -1, inferred from the input size
    (as in Keras). Backward reshapes the gradient back to the input's shape."""

    def __init__(self, target_shape, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        shape = (target_shape,) if is_int(target_shape) else target_shape
        try:
            shape = tuple(shape)
            ok = len(shape) > 0 and all(is_int(d) and (d >= 1 or d == -1) for d in shape)
        except TypeError:
            ok = False
        if not ok or sum(d == -1 for d in shape) > 1:
            raise ValueError("Reshape: target_shape must be a tuple of positive ints, with at most "
                             f"one -1. Received: target_shape={target_shape!r}")
        self.target_shape = tuple(int(d) for d in shape)
        self._in_shape = None

    def compute_output_shape(self, input_shape):
        size = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 in self.target_shape and size % known) or (-1 not in self.target_shape and size != known):
            raise ValueError(f"{self.name}: cannot reshape an input of shape {tuple(input_shape)} "
                             f"({size} values per sample) to target_shape {self.target_shape}")
        return tuple(size // known if d == -1 else d for d in self.target_shape)

    def call(self, x, training=False):
        x = _checks.as_float(x, "Reshape input")
        self._in_shape = tuple(x.shape)
        return x.reshape((x.shape[0],) + self.compute_output_shape(self._in_shape[1:]))

    def backward(self, dout):
        if self._in_shape is None:
            raise RuntimeError(f"{self.name}: backward called before a forward pass")
        dout = _checks.as_float(dout, "Reshape dout")
        if math.prod(dout.shape) != math.prod(self._in_shape):
            raise ValueError(f"{self.name}: dout of shape {tuple(dout.shape)} does not match the "
                             f"forward's input {self._in_shape}")
        return dout.reshape(self._in_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class UpSampling2D(Layer):
    """Nearest-neighbour upsampling: x (N, C, H, W) -> y (N, C, H*sh, W*sw), each value copied
    into an sh x sw block. Backward sums each block of the gradient."""

    def __init__(self, size=2, interpolation="nearest", input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.size = pair(size, "size", 1, owner="UpSampling2D")
        if interpolation != "nearest":
            raise ValueError("UpSampling2D: interpolation must be 'nearest' (the only one tinydl "
                             f"has). Received: interpolation={interpolation!r}")
        self.interpolation = interpolation
        self._cache = None

    def call(self, x, training=False):
        out, self._cache = ops.upsample2d_forward(x, self.size)
        return out

    def backward(self, dout):
        return ops.upsample2d_backward(dout, self._cache)

    def compute_output_shape(self, input_shape):
        C, H, W = input_shape
        return (C, H * self.size[0], W * self.size[1])

    def get_config(self):
        return {**super().get_config(), "size": self.size, "interpolation": self.interpolation}
