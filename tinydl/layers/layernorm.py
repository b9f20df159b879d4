"""LayerNormalization over the last axis, with gamma and beta (Keras's defaults)."""
from tinydl import ops
from tinydl._validate import finite_float
from tinydl.layers.base import Layer


class LayerNormalization(Layer):
    """y = (x - mean) / sqrt(var + epsilon) * gamma + beta over the last axis of (N, ..., E)."""

    def __init__(self, epsilon=1e-3, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.epsilon = finite_float(epsilon, "epsilon", 0.0, low_open=True, owner="LayerNormalization")

    def build(self, input_shape):
        # gamma, beta (E,)
        E = input_shape[-1]
        self.gamma = self.add_weight("gamma", (E,), "ones")
        self.beta = self.add_weight("beta", (E,), "zeros")

    def call(self, x, training=False):
        out, self._cache = ops.layernorm_forward(x, self.gamma.value, self.beta.value, self.epsilon)
        return out

    def backward(self, dout):
        dx, dgamma, dbeta = ops.layernorm_backward(dout, self._cache)
        self.gamma.accumulate_grad(dgamma)
        self.beta.accumulate_grad(dbeta)
        return dx

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
