"""Rescaling: explicit input scaling inside the model (Keras's layers.Rescaling).

tinydl never rescales by dtype: integer images reach the model as float32 of the same values
(0..255) through fit, evaluate, predict, validation_data and DataLoader alike. Put the scaling in
the model, and every path sees the same numbers:

    td.Sequential([layers.Input((3, 32, 32)), layers.Rescaling(1 / 255), ...])
"""
from tinydl import ops
from tinydl._validate import finite_float
from tinydl.layers.base import Layer


class Rescaling(Layer):
    """y = x * scale + offset, elementwise (no weights): Rescaling(1/255) maps pixels to [0, 1],
    Rescaling(1/127.5, offset=-1) to [-1, 1]."""

    def __init__(self, scale, offset=0.0, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.scale = finite_float(scale, "scale", owner="Rescaling")
        self.offset = finite_float(offset, "offset", owner="Rescaling")
        self._cache = None

    def call(self, x, training=False):
        out, self._cache = ops.rescale_forward(x, self.scale, self.offset)
        return out

    def backward(self, dout):
        return ops.rescale_backward(dout, self._cache)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
