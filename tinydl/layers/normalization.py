"""BatchNormalization (LayerNormalization lives in layernorm.py)."""
from tinydl import ops
from tinydl._validate import finite_float
from tinydl.layers.activations import WithTrailingReLU
from tinydl.layers.base import Layer


class BatchNormalization(WithTrailingReLU, Layer):
    """Normalize per channel (axis 1 of (N, C, H, W)) or per feature (last axis of (N, C)).

    Training: batch mean and biased batch variance; the moving statistics follow
    moving = momentum * moving + (1 - momentum) * batch. Inference uses the moving statistics,
    and so does a frozen layer (trainable=False) in training, as in Keras 3: fine-tuning a model
    around a frozen one neither uses nor changes its batch statistics.
    Weights: [gamma, beta, moving_mean, moving_variance], the last two non-trainable.

    Data-parallel training (tinydl.distributed): by default each rank normalizes with the
    statistics of its own slice of the batch, and the ranks' moving statistics drift apart.
    synchronized=True uses the statistics of the global batch (summed across the ranks, and so
    are their gradients in backward): N ranks then equal one process on the whole batch, at the
    cost of three small allreduces per layer and step (tinydl/distributed/sync_batchnorm.py).
    In a world of one it is the ordinary layer."""

    def __init__(self, momentum=0.99, epsilon=1e-3, synchronized=False, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.momentum = finite_float(momentum, "momentum", 0.0, 1.0, owner="BatchNormalization")
        self.epsilon = finite_float(epsilon, "epsilon", 0.0, low_open=True, owner="BatchNormalization")
        if not isinstance(synchronized, bool):
            raise TypeError(f"BatchNormalization: synchronized must be True or False. "
                            f"Received: synchronized={synchronized!r}")
        self.synchronized = synchronized
        self._cache, self._backward_op = None, ops.batchnorm_backward

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

    def call(self, x, training=False, fused_relu=False):
        """fused_relu: return ReLU(out), as one op where the device has it (a model passes it
        when a plain ReLU follows this layer: tinydl/models/functional.py, relu_plan)."""
        training = bool(training) and self.trainable
        forward, self._backward_op = self._ops(training)
        one_op = fused_relu and forward is ops.batchnorm_forward    # (the synchronized one has none)
        if one_op:
            forward, self._backward_op = ops.batchnorm_relu_forward, ops.batchnorm_relu_backward
        out, self._cache = forward(
            x, self.gamma.value, self.beta.value, self.moving_mean.value,
            self.moving_variance.value, self.momentum, self.epsilon, training=training)
        return self._relu_after(out, fused_relu and not one_op)

    def _ops(self, training):
        """The (forward, backward) pair: the synchronized one in training on several ranks."""
        if self.synchronized and training:
            from tinydl.distributed import sync_batchnorm, world_size
            if world_size() > 1:
                return sync_batchnorm.sync_batchnorm_forward, sync_batchnorm.sync_batchnorm_backward
        return ops.batchnorm_forward, ops.batchnorm_backward

    def backward(self, dout):
        dx, dgamma, dbeta = self._backward_op(self._relu_backward(dout), self._cache)
        self.gamma.accumulate_grad(dgamma)
        self.beta.accumulate_grad(dbeta)
        return dx

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon,
                "synchronized": self.synchronized}
