"""Conv2D: a 2-D convolution over NCHW images."""
import math

import numpy as np

from tinydl import initializers, ops
from tinydl.layers.activations import WithActivation, get_activation, serialize_activation
from tinydl.layers.base import Layer
from tinydl.ops import _checks


def _positive_pair(v, what, owner):
    try:
        return _checks.pair(v, what, 1)
    except ValueError:
        raise ValueError(f"{owner}: {what} must be a positive int or a pair of them. "
                         f"Received: {what}={v!r}") from None


def check_padding(padding, owner):
    """'valid' | 'same' | int >= 0 | (ph, pw) of ints >= 0, as given (strings lower-cased)."""
    if isinstance(padding, str):
        if padding.lower() in ("valid", "same"):
            return padding.lower()
    else:
        try:
            _checks.pair(padding, "padding", 0)
            return padding
        except ValueError:
            pass
    raise ValueError(f"{owner}: padding must be 'valid', 'same', an int >= 0 or a pair (ph, pw) "
                     f"of them. Received: padding={padding!r}")


def explicit_padding(padding, size, kernel, stride):
    """(top, bottom, left, right) for an input of ``size`` (H, W).

    'same' is TF/Keras's rule per axis: total = max((ceil(H/s) - 1)*s + k - H, 0), split with the
    smaller half before (so at stride 2 the extra row goes at the bottom/right)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        pads = []
        for n, k, s in zip(size, kernel, stride):
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    ph, pw = _checks.pair(padding, "padding", 0)
    return (ph, ph, pw, pw)


class Conv2D(WithActivation, Layer):
    """y = activation(conv(x, W) + b): x (N, C, H, W) -> y (N, filters, OH, OW).

    kernel (filters, C, kh, kw), bias (filters,); cross-correlation, as in Keras and PyTorch."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"Conv2D: filters must be a positive int. Received: filters={filters!r}")
        self.filters = int(filters)
        self.kernel_size = _positive_pair(kernel_size, "kernel_size", "Conv2D")
        self.strides = _positive_pair(strides, "strides", "Conv2D")
        self.padding = check_padding(padding, "Conv2D")
        self.activation = get_activation(activation, owner="Conv2D")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None
        self._cache = None

    def build(self, input_shape):
        # input_shape (C, H, W) -> W (filters, C, kh, kw), b (filters,)
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected input (C, H, W) per sample; "
                             f"received input_shape {tuple(input_shape)}")
        self.in_channels = input_shape[0]
        self.kernel = self.add_weight(
            "kernel", (self.filters, self.in_channels) + self.kernel_size, self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)

    def call(self, x, training=False, apply_activation=True):
        pad = explicit_padding(self.padding, tuple(x.shape[2:4]), self.kernel_size, self.strides)
        bias = self.bias.value if self.use_bias else None
        out, self._cache = ops.conv2d_forward(x, self.kernel.value, bias, self.strides, pad)
        return self._activate(out, training, apply_activation)

    def backward(self, dout):
        dout = self._activation_backward(dout)
        dx, dw, db = ops.conv2d_backward(dout, self._cache)
        self.kernel.accumulate_grad(dw)
        if self.use_bias:
            self.bias.accumulate_grad(db)
        return dx

    def compute_output_shape(self, input_shape):
        _, H, W = input_shape
        pt, pb, pl, pr = explicit_padding(self.padding, (H, W), self.kernel_size, self.strides)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        return (self.filters, (H + pt + pb - kh) // sh + 1, (W + pl + pr - kw) // sw + 1)

    def get_config(self):
        padding = self.padding if isinstance(self.padding, str) else _checks.pair(self.padding, "padding", 0)
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": padding,
                "activation": serialize_activation(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}
