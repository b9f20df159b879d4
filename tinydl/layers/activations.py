"""Activation layers: each a thin wrapper over an op pair in tinydl.ops.

    y = f(x)          call:     ops.<name>_forward(x)  -> y, cache
    dx = f'(x) * dy   backward: ops.<name>_backward(dy, cache)
"""
from tinydl import ops
from tinydl._validate import finite_float
from tinydl.layers.base import Layer


class _Activation(Layer):
    op = None  # the ops name prefix, e.g. "relu"

    def __init__(self, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self._cache = None

    def _forward_kwargs(self):
        return {}

    def call(self, x, training=False):
        out, self._cache = getattr(ops, f"{self.op}_forward")(x, **self._forward_kwargs())
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward called before a forward pass")
        return getattr(ops, f"{self.op}_backward")(dout, self._cache)


class ReLU(_Activation):
    op = "relu"


class LeakyReLU(_Activation):
    op = "leaky_relu"

    def __init__(self, negative_slope=0.3, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.negative_slope = finite_float(negative_slope, "negative_slope", low=0.0, owner="LeakyReLU")

    def _forward_kwargs(self):
        return {"negative_slope": self.negative_slope}

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class Sigmoid(_Activation):
    op = "sigmoid"


class Tanh(_Activation):
    op = "tanh"


class GELU(_Activation):
    op = "gelu"


class Softmax(_Activation):
    """Softmax over the last axis."""
    op = "softmax"


class WithActivation:
    """For a layer whose last step is an optional activation (Dense, Conv2D):
    y = activation(z) in call, dz = activation'(z) * dy first in backward. ``apply=False`` skips
    it (Sequential does, when compile fused the final softmax/sigmoid into the loss)."""
    activation = None
    _activated = False

    def _activate(self, z, training, apply=True):
        self._activated = apply and self.activation is not None
        return self.activation(z, training=training) if self._activated else z

    def _activation_backward(self, dout):
        return self.activation.backward(dout) if self._activated else dout


class WithTrailingReLU:
    """For a layer that a model may ask to end with a ReLU it runs as its own op (``fused_relu``,
    tinydl/models/functional.py, relu_plan): y = relu(z) in call, dz = relu'(z) * dy first in
    backward; ``apply=False`` leaves z as it is."""
    _relu_cache = None

    def _relu_after(self, z, apply):
        out, self._relu_cache = ops.relu_forward(z) if apply else (z, None)
        return out

    def _relu_backward(self, dout):
        return dout if self._relu_cache is None else ops.relu_backward(dout, self._relu_cache)


def plain_relu(layer):
    """A ReLU with nothing else to it: layers.ReLU(), Activation("relu") or activation="relu"
    (the ReLUs that a neighbouring op may run for it)."""
    from tinydl.layers.activation import Activation
    return type(layer) is ReLU or (type(layer) is Activation and layer.activation == "relu")


ACTIVATIONS = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "gelu": GELU,
    "softmax": Softmax,
}


def get_activation(activation, owner="layer"):
    """A fresh activation layer for a Keras string (or None / "linear" for none), a layer, or a
    serialized layer {"class_name", "config"} (what get_config wrote)."""
    if activation is None or activation == "linear":
        return None
    if isinstance(activation, Layer):
        return activation
    if isinstance(activation, dict):
        from tinydl.layers.serialization import deserialize
        return deserialize(activation)
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"{owner}: unknown activation; expected one of {sorted(ACTIVATIONS)} or None; "
            f"received activation={activation!r}"
        )
    layer = ACTIVATIONS[activation]()
    layer.activation_name = activation      # what get_config writes back
    return layer


def serialize_activation(activation):
    """What a config holds for a layer's activation: None, the name it was made from, or the
    serialized layer (an activation layer passed in, e.g. LeakyReLU(0.1))."""
    if activation is None:
        return None
    name = getattr(activation, "activation_name", None)
    if name is not None:
        return name
    from tinydl.layers.serialization import serialize
    return serialize(activation)
