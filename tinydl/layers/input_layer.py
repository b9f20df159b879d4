"""Input: the entry of a graph. ``td.Input(shape)`` (also ``layers.Input``) returns a symbolic
tensor of shape (None, *shape); it is also accepted as the first entry of a Sequential."""
import numpy as np

from tinydl._validate import positive_int
from tinydl.layers.base import Layer
from tinydl.layers.symbolic import KerasTensor, Node


class InputLayer(Layer):
    """The layer behind a ``td.Input`` tensor: no weights; its output is the model's input."""

    def __init__(self, shape, dtype=None, name=None):
        super().__init__(name=name or _input_name())
        shape = (shape,) if not isinstance(shape, (tuple, list)) else tuple(shape)
        if not shape:
            raise ValueError(f"Input: shape must be a tuple of positive ints. Received: shape={shape!r}")
        try:
            self.shape = tuple(positive_int(d, "shape entry") for d in shape)
        except ValueError:
            raise ValueError(f"Input: shape must be a tuple of positive ints. "
                             f"Received: shape={shape!r}") from None
        self.input_shape = self.shape
        self.user_dtype = None if dtype is None else np.dtype(dtype)
        self.dtype = self.user_dtype or np.dtype(np.float32)
        self.built = True
        node = Node(self, (), {})
        node.outputs.append(KerasTensor(self.shape, self.dtype, node, 0, name=self.name))
        self._inbound_nodes.append(node)

    def call(self, x, training=False):
        return x

    def backward(self, dout):
        return dout

    def get_config(self):
        """``dtype`` is None unless one was given: then the model follows its first data."""
        return {"name": self.name, "trainable": self.trainable, "shape": list(self.shape),
                "dtype": None if self.user_dtype is None else self.user_dtype.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("input_shape", None)
        trainable = config.pop("trainable", True)
        layer = cls(**config)
        layer.trainable = trainable
        return layer


_count = [0]


def _input_name():
    n = _count[0]
    _count[0] += 1
    return "input_layer" if n == 0 else f"input_layer_{n}"


def Input(shape, name=None, dtype=None):
    """A symbolic input of per-sample ``shape`` (no batch axis): ``x.shape == (None, *shape)``.
    Without ``dtype`` the model computes in float32, or float64 when first given float64 data."""
    return InputLayer(shape, dtype=dtype, name=name).output
