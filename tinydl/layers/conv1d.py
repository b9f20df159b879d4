"""Conv1D: a 1-D convolution over (N, C, L) sequences, run as a 2-D convolution of height 1."""
import math

from tinydl import initializers, ops
from tinydl import tape as _tape
from tinydl._validate import positive_int
from tinydl.layers.activations import WithActivation, get_activation
from tinydl.layers.base import Layer


def _one(v, name, owner):
    # an int, or a 1-tuple of one (Keras accepts kernel_size=(3,))
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    return positive_int(v, name, owner)


class Conv1D(WithActivation, Layer):
    """y = activation(conv1d(x, W) + b): x (N, C, L) -> y (N, filters, L_out), channels first.

    L_out per padding (k kernel, s stride): "valid" (L - k) // s + 1; "same" ceil(L / s) (Keras's
    split, the odd element at the end); "causal" ceil(L / s) with all k - 1 pad elements on the
    left, so y[t] only sees x[..t] (WaveNet's rule; autoregressive models need it).

    The lesson: a 1-D convolution IS a 2-D one with H = 1 and a 1 x k kernel. call() views
    x as (N, C, 1, L) and W as (filters, C, 1, k) (reshapes, no copies) and runs
    ops.conv2d_forward; the backward is conv2d_backward, its gradients viewed back. So Conv1D runs
    on every device and every conv2d kernel version, and is as fast as they are.
    Attributes: kernel (filters, C, k) (PyTorch's Conv1d layout; Keras stores (k, C, filters)),
    bias (filters,)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        owner = "Conv1D"
        self.filters = positive_int(filters, "filters", owner)
        self.kernel_size = _one(kernel_size, "kernel_size", owner)
        self.strides = _one(strides, "strides", owner)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same", "causal"):
            raise ValueError(f"{owner}: padding must be 'valid', 'same' or 'causal'. "
                             f"Received: padding={padding!r}")
        self.padding = padding.lower()
        self.activation = get_activation(activation, owner=owner)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel = self.bias = None
        self._cache = None

    def build(self, input_shape):
        # input_shape (C, L) -> W (filters, C, k), b (filters,)
        if len(input_shape) != 2:
            raise ValueError(f"{self.name}: expected input (C, L) per sample; "
                             f"received input_shape {tuple(input_shape)}")
        self.in_channels = input_shape[0]
        init = initializers.get(self.kernel_initializer)
        as_2d = (self.filters, self.in_channels, 1, self.kernel_size)    # Keras's fans: C*k in, F*k out

        def kernel_init(shape, dtype, rng):
            return init(as_2d, dtype, rng).reshape(shape)
        self.kernel = self.add_weight("kernel", (self.filters, self.in_channels, self.kernel_size), kernel_init)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)

    def _pads(self, L):
        """(left, right) padding of the sequence axis."""
        k, s = self.kernel_size, self.strides
        if self.padding == "valid":
            return 0, 0
        if self.padding == "causal":
            return k - 1, 0
        total = max((math.ceil(L / s) - 1) * s + k - L, 0)
        return total // 2, total - total // 2

    def call(self, x, training=False, apply_activation=True):
        if len(x.shape) != 3:
            raise ValueError(f"{self.name}: expected input (N, C, L); received shape {tuple(x.shape)}")
        N, C, L = x.shape
        left, right = self._pads(L)
        x4 = x.reshape(N, C, 1, L)                                        # (N, C, 1, L)
        w4 = self.kernel.value.reshape(self.filters, C, 1, self.kernel_size)
        bias = self.bias.value if self.use_bias else None
        out, self._cache = ops.conv2d_forward(x4, w4, bias, (1, self.strides), (0, 0, left, right))
        out = out.reshape(N, self.filters, out.shape[3])                  # (N, filters, L_out)
        return self._activate(out, training, apply_activation)

    def backward(self, dout):
        dout = self._activation_backward(dout)
        N, F, L_out = dout.shape
        dx, dw, db = ops.conv2d_backward(dout.reshape(N, F, 1, L_out), self._cache,
                                         need_dx=_tape.input_grad_needed(self))
        self.kernel.accumulate_grad(dw.reshape(self.kernel.shape))
        if self.use_bias:
            self.bias.accumulate_grad(db)
        return None if dx is None else dx.reshape(N, dx.shape[1], dx.shape[3])

    def compute_output_shape(self, input_shape):
        _, L = input_shape
        left, right = self._pads(L)
        return (self.filters, (L + left + right - self.kernel_size) // self.strides + 1)

    def get_config(self):
        act = self.activation
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "use_bias": self.use_bias,
                "activation": None if act is None else type(act).__name__.lower(),
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}
