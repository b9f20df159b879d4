"""Conv2D: a 2-D convolution over NCHW images."""
import math

from tinydl import initializers, ops
from tinydl import tape as _tape
from tinydl._validate import conv_output_size, pair, positive_int
from tinydl.layers import _shapes
from tinydl.layers.activations import WithActivation, get_activation, plain_relu, serialize_activation
from tinydl.layers.base import Layer


def check_padding(padding, owner):
    """'valid' | 'same' | int >= 0 | (ph, pw) of ints >= 0, as given (strings lower-cased)."""
    if isinstance(padding, str):
        if padding.lower() in ("valid", "same"):
            return padding.lower()
    else:
        try:
            pair(padding, "padding", 0)
            return padding
        except ValueError:
            pass
    raise ValueError(f"{owner}: padding must be 'valid', 'same', an int >= 0 or a pair (ph, pw) "
                     f"of them. Received: padding={padding!r}")


def window_output_shape(owner, input_shape, channels, window, strides, padding):
    """(channels, OH, OW) of a conv or pooling window over a (C, H, W) input (channels None:
    the input's C); raises, with the channels-first hint, when an axis would be <= 0."""
    _shapes.check_image_input(owner, input_shape)
    C, H, W = input_shape
    pt, pb, pl, pr = explicit_padding(padding, (H, W), window, strides)
    oh = conv_output_size(H, window[0], strides[0], pt, pb)
    ow = conv_output_size(W, window[1], strides[1], pl, pr)
    return _shapes.check_output_shape(owner, input_shape, (C if channels is None else channels, oh, ow))


def explicit_padding(padding, size, kernel, stride):
    """(top, bottom, left, right) for an input of ``size`` (H, W).

    'same' is TF/Keras's rule per axis: total = max((ceil(H/s) - 1)*s + k - H, 0), split with the
    smaller half before (so at stride 2 the extra row goes at the bottom/right)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        pads = []
        for n, k, s in zip(size, kernel, stride, strict=True):
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    ph, pw = pair(padding, "padding", 0)
    return (ph, ph, pw, pw)


class Conv2D(WithActivation, Layer):
    """y = activation(conv(x, W) + b): x (N, C, H, W) -> y (N, filters, OH, OW).

    kernel (filters, C, kh, kw), bias (filters,); cross-correlation, as in Keras and PyTorch."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.filters = positive_int(filters, "filters", "Conv2D")
        self.kernel_size = pair(kernel_size, "kernel_size", 1, "Conv2D")
        self.strides = pair(strides, "strides", 1, "Conv2D")
        self.padding = check_padding(padding, "Conv2D")
        self.activation = get_activation(activation, owner="Conv2D")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None
        self._cache = None
        self._relu_fused = False

    def build(self, input_shape):
        # input_shape (C, H, W) -> W (filters, C, kh, kw), b (filters,)
        self.compute_output_shape(input_shape)          # raises when an output axis is <= 0
        _shapes.warn_if_channels_last(input_shape)
        self.in_channels = input_shape[0]
        self.kernel = self.add_weight(
            "kernel", (self.filters, self.in_channels) + self.kernel_size, self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)

    def call(self, x, training=False, apply_activation=True, fused_relu=False):
        # a ReLU (activation="relu", or a ReLU layer after this one that a model hands over as
        # fused_relu) runs inside the conv op: conv2d_relu
        pad = explicit_padding(self.padding, tuple(x.shape[2:4]), self.kernel_size, self.strides)
        bias = self.bias.value if self.use_bias else None
        own_relu = apply_activation and plain_relu(self.activation)
        self._relu_fused = fused_relu or own_relu
        forward = ops.conv2d_relu_forward if self._relu_fused else ops.conv2d_forward
        out, self._cache = forward(x, self.kernel.value, bias, self.strides, pad)
        return self._activate(out, training, apply_activation and not own_relu)

    def backward(self, dout):
        dout = self._activation_backward(dout)
        backward = ops.conv2d_relu_backward if self._relu_fused else ops.conv2d_backward
        dx, dw, db = backward(dout, self._cache, need_dx=_tape.input_grad_needed(self))
        self.kernel.accumulate_grad(dw)
        if self.use_bias:
            self.bias.accumulate_grad(db)
        return dx

    def compute_output_shape(self, input_shape):
        return window_output_shape(self.name, input_shape, self.filters, self.kernel_size,
                                   self.strides, self.padding)

    def get_config(self):
        padding = self.padding if isinstance(self.padding, str) else pair(self.padding, "padding", 0)
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": padding,
                "activation": serialize_activation(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}
