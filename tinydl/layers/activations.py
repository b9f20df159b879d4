"""Activation layers: each a thin wrapper over an op pair in tinydl.ops.

    y = f(x)          call:     ops.<name>_forward(x)  -> y, cache
    dx = f'(x) * dy   backward: ops.<name>_backward(dy, cache)
"""
from tinydl import ops
from tinydl.layers.base import Layer
from tinydl.ops import _checks


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
        self.negative_slope = _checks.finite_float(negative_slope, "negative_slope", low=0.0)

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


ACTIVATIONS = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "gelu": GELU,
    "softmax": Softmax,
}


def get_activation(activation, owner="layer"):
    """A fresh activation layer for a Keras string (or None / "linear" for none)."""
    if activation is None or activation == "linear":
        return None
    if isinstance(activation, Layer):
        return activation
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"{owner}: unknown activation; expected one of {sorted(ACTIVATIONS)} or None; "
            f"received activation={activation!r}"
        )
    return ACTIVATIONS[activation]()


# ---- Keras 3's other activation names, and the Activation(name) layer --------------------------
class SiLU(_Activation):
    """x * sigmoid(x): Keras's "silu", also "swish"."""
    op = "silu"


class ELU(_Activation):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    op = "elu"

    def __init__(self, alpha=1.0, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.alpha = _checks.finite_float(alpha, "ELU: alpha")

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


ACTIVATIONS.update({"silu": SiLU, "swish": SiLU, "elu": ELU, "selu": SELU, "softplus": Softplus})
_NAMES = sorted(ACTIVATIONS) + ["linear"]


class Activation(Layer):
    """Applies the activation named ``activation`` ("relu", "silu", "linear", ...) elementwise:
    x (N, ...) -> y (N, ...), the same shape. "linear" (or None) is the identity."""

    def __init__(self, activation, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        if isinstance(activation, Layer) or (activation is not None and activation not in _NAMES):
            raise ValueError(f"Activation: activation must be one of {_NAMES}. "
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
