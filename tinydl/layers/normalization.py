"""BatchNormalization (LayerNormalization lives in layernorm.py)."""
from tinydl import ops
from tinydl.layers.base import Layer
from tinydl._validate import finite_float


class BatchNormalization(Layer):
    """Normalize per channel (axis 1 of (N, C, H, W)) or per feature (last axis of (N, C)).

    Training: batch mean and biased batch variance; the moving statistics follow
    moving = momentum * moving + (1 - momentum) * batch. Inference uses the moving statistics.
    Weights: [gamma, beta, moving_mean, moving_variance], the last two non-trainable."""

    def __init__(self, momentum=0.99, epsilon=1e-3, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.momentum = finite_float(momentum, "momentum", 0.0, 1.0, owner="BatchNormalization")
        self.epsilon = finite_float(epsilon, "epsilon", 0.0, low_open=True, owner="BatchNormalization")
        self._cache = None

    def build(self, input_shape):
        # input_shape (C, H, W) or (C,): one statistic per C
        if len(input_shape) not in (1, 3):
            raise ValueError(f"{self.name}: expected input (C, H, W) or (C,) per sample; "
                             f"received input_shape {tuple(input_shape)}")
        C = (input_shape[0],)
        self.gamma = self.add_weight("gamma", C, "ones")
        self.beta = self.add_weight("beta", C, "zeros")
        self.moving_mean = self.add_weight("moving_mean", C, "zeros", trainable=False)
        self.moving_variance = self.add_weight("moving_variance", C, "ones", trainable=False)

    def call(self, x, training=False):
        out, self._cache = ops.batchnorm_forward(
            x, self.gamma.value, self.beta.value, self.moving_mean.value,
            self.moving_variance.value, self.momentum, self.epsilon, training=training)
        return out

    def backward(self, dout):
        dx, dgamma, dbeta = ops.batchnorm_backward(dout, self._cache)
        self.gamma.accumulate_grad(dgamma)
        self.beta.accumulate_grad(dbeta)
        return dx

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}
