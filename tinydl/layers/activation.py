"""Keras 3's other activation names (silu / swish, elu, selu, softplus) and the
Activation(name) layer, which applies any activation named by a string ("linear": the identity).

Each activation layer is a thin wrapper over an op pair in tinydl.ops, as in layers/activations.py;
importing this module registers the names with get_activation, so Dense(activation="silu") and
every other ``activation=`` argument accept them too.
"""
from tinydl._validate import finite_float
from tinydl.layers.activations import ACTIVATIONS, _Activation, get_activation
from tinydl.layers.base import Layer
from tinydl.ops import _checks


class SiLU(_Activation):
    """x * sigmoid(x): Keras's "silu", also "swish"."""
    op = "silu"


class ELU(_Activation):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    op = "elu"

    def __init__(self, alpha=1.0, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.alpha = finite_float(alpha, "ELU: alpha")

    def _forward_kwargs(self):
        return {"alpha": self.alpha}

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class SELU(_Activation):
    """scale * elu(x, alpha), alpha = 1.67326..., scale = 1.05070... (self-normalizing)."""
    op = "selu"


class Softplus(_Activation):
    """log(1 + exp(x)), stable for large |x|."""
    op = "softplus"


# registered where get_activation looks names up (this module is imported by tinydl.layers)
ACTIVATIONS.update({"silu": SiLU, "swish": SiLU, "elu": ELU, "selu": SELU, "softplus": Softplus})


def _names():
    return sorted(ACTIVATIONS) + ["linear"]


class Activation(Layer):
    """Applies the activation named ``activation`` ("relu", "silu", "linear", ...) elementwise:
    x (N, ...) -> y (N, ...), the same shape. "linear" (or None) is the identity."""

    def __init__(self, activation, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        if isinstance(activation, Layer) or (activation is not None and activation not in _names()):
            raise ValueError(f"Activation: activation must be one of {_names()}. "
                             f"Received: activation={activation!r}")
        self.activation = "linear" if activation is None else activation
        self._fn = get_activation(self.activation, owner="Activation")
        if self._fn is not None:
            self.track(self._fn)

    def call(self, x, training=False):
        if self._fn is None:
            return _checks.as_float(x, "Activation input")
        return self._fn(x, training=training)

    def backward(self, dout):
        return dout if self._fn is None else self._fn.backward(dout)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}
