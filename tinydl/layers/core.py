"""Input, Dense, Flatten, Dropout."""
from tinydl import initializers, ops
from tinydl import random as _random
from tinydl import tape as _tape
from tinydl._validate import finite_float, positive_int
from tinydl.layers import _shapes
from tinydl.layers.activations import WithActivation, get_activation, serialize_activation
from tinydl.layers.base import Layer
from tinydl.layers.input_layer import Input, InputLayer  # noqa: F401  (layers.core.Input, as before)
from tinydl.ops import _checks


class Dense(WithActivation, Layer):
    """y = activation(x @ W + b) on the last axis: x (N, ..., in) -> y (N, ..., units)."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.units = positive_int(units, "units", "Dense")
        self.activation = get_activation(activation, owner="Dense")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None
        self._cache = None

    def build(self, input_shape):
        # W (in, units), b (units,)
        self.in_features = input_shape[-1]
        self.kernel = self.add_weight("kernel", (self.in_features, self.units), self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer)

    def call(self, x, training=False, apply_activation=True):
        if tuple(x.shape)[-1] != self.in_features:
            raise ValueError(
                f"{self.name}: expected input with last axis {self.in_features}; "
                f"received shape {tuple(x.shape)}"
            )
        bias = self.bias.value if self.use_bias else None
        out, self._cache = ops.dense_forward(x, self.kernel.value, bias)
        return self._activate(out, training, apply_activation)

    def backward(self, dout):
        dout = self._activation_backward(dout)
        dx, dw, db = ops.dense_backward(dout, self._cache, need_dx=_tape.input_grad_needed(self))
        self.kernel.accumulate_grad(dw)
        if self.use_bias:
            self.bias.accumulate_grad(db)
        return dx

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": serialize_activation(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...)."""

    def call(self, x, training=False):
        self._shape = tuple(x.shape)
        return _checks.as_float(x, "Flatten input").reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self._shape)

    def compute_output_shape(self, input_shape):
        n = 1
        for d in input_shape:
            n *= d
        return _shapes.check_output_shape(self.name, input_shape, (n,))


class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability ``rate`` and scale the
    rest by 1/(1-rate); the identity otherwise. ``seed`` makes the sequence of masks repeatable."""

    def __init__(self, rate, seed=None, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.rate = finite_float(rate, "rate", low=0.0, high=1.0, high_open=True, owner="Dropout")
        self.seed = seed
        self._calls = 0
        self._cache = None

    def _next_seed(self):
        self._calls += 1
        if self.seed is None:
            return _random.new_seed()
        return (int(self.seed) * 1_000_003 + self._calls) % (2**63 - 1)

    def call(self, x, training=False):
        out, self._cache = ops.dropout_forward(x, self.rate, self._next_seed(), training=training)
        return out

    def backward(self, dout):
        return ops.dropout_backward(dout, self._cache)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "seed": None if self.seed is None else int(self.seed)}
