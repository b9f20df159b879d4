"""Layer: the base class of every layer, in Keras's order.

    __init__   validate the arguments and say what was received
    build      create the Parameters from the input shape (without the batch axis)
    call       the forward pass (through tinydl.ops: no arithmetic on arrays here)
    backward   dLoss/dInput from dLoss/dOutput; parameter gradients accumulate into .grad
    compute_output_shape, get_config
"""
import re

import numpy as np

from tinydl import device as _device
from tinydl import initializers
from tinydl import random as _random
from tinydl.parameter import Parameter

_counts: dict[str, int] = {}


def _auto_name(cls_name: str) -> str:
    """Keras's snake case: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, ReLU -> re_lu."""
    base = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", cls_name)
    base = re.sub("([a-z])([A-Z])", r"\1_\2", base).lower()
    n = _counts.get(base, 0)
    _counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def float_dtype(x) -> np.dtype:
    """The float dtype a layer computes in for input ``x``: float64 stays, all else float32."""
    return np.dtype(np.float64) if np.dtype(x.dtype) == np.float64 else np.dtype(np.float32)


class Layer:
    def __init__(self, input_shape=None, name=None):
        self.name = name or _auto_name(type(self).__name__)
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.built = False
        self.dtype = None
        self._params: list[Parameter] = []
        self._sublayers: list["Layer"] = []

    # -- building ---------------------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for an input of ``input_shape`` (no batch axis)."""
        self.built = True

    def _ensure_built(self, input_shape, dtype):
        if not self.built:
            self.dtype = np.dtype(dtype)
            self._build_input_shape = tuple(input_shape)   # what a saved model is rebuilt from
            self.build(tuple(input_shape))
            self.built = True

    def add_weight(self, name, shape, initializer="zeros", trainable=True):
        init = initializers.get(initializer)
        value = init(tuple(shape), self.dtype or np.float32, _random.generator())
        p = Parameter(_device.to_device(value), name=f"{self.name}/{name}", trainable=trainable)
        self._params.append(p)
        return p

    def track(self, layer: "Layer") -> "Layer":
        """Register a child layer, so its weights are this layer's weights too."""
        self._sublayers.append(layer)
        return layer

    # -- forward and backward ---------------------------------------------------------------
    def __call__(self, x, training=False):
        self._ensure_built(tuple(x.shape[1:]), float_dtype(x))
        return self.call(x, training=training)

    def call(self, x, training=False):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__} has no backward pass")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        """The constructor's arguments as JSON values: ``type(layer).from_config(config)``
        builds an equal layer. Each layer adds its own arguments to these."""
        return {"name": self.name, "trainable": getattr(self, "trainable", True),
                "dtype": None if self.dtype is None else np.dtype(self.dtype).name,
                "input_shape": None if self.input_shape is None else list(self.input_shape)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        trainable, dtype = config.pop("trainable", True), config.pop("dtype", None)
        layer = cls(**config)
        if not trainable:
            layer.trainable = False
        if dtype is not None:
            layer.dtype = np.dtype(dtype)
        return layer

    # -- weights ----------------------------------------------------------------------------
    @property
    def weights(self) -> list[Parameter]:
        out = list(self._params)
        for layer in self._sublayers:
            out.extend(layer.weights)
        return out

    @property
    def trainable_weights(self) -> list[Parameter]:
        return [p for p in self.weights if p.trainable]

    @property
    def non_trainable_weights(self) -> list[Parameter]:
        return [p for p in self.weights if not p.trainable]

    def get_weights(self) -> list[np.ndarray]:
        return [_device.to_numpy(p.value).copy() for p in self.weights]

    def set_weights(self, arrays) -> None:
        params = self.weights
        arrays = list(arrays)
        if len(arrays) != len(params):
            raise ValueError(
                f"layer {self.name!r} expects {len(params)} weight arrays; received {len(arrays)}"
            )
        for p, a in zip(params, arrays):
            if tuple(np.shape(a)) != p.shape:
                raise ValueError(
                    f"weight {p.name!r} expects shape {p.shape}; received {tuple(np.shape(a))}"
                )
        for p, a in zip(params, arrays):
            host = np.array(a, dtype=p.dtype, order="C")  # the layer's dtype, C order, a copy
            p.value = _device.to_device(host, _device_of(p.value))

    def count_params(self) -> int:
        return sum(p.size for p in self.weights)

    def zero_grad(self) -> None:
        for p in self.weights:
            p.zero_grad()

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def _device_of(a) -> str:
    return "cuda" if _device.is_device_array(a) else "cpu"
