"""DepthwiseConv2D and SeparableConv2D (depthwise, then a 1x1 pointwise Conv2D)."""
from tinydl import initializers, ops
from tinydl._validate import pair, positive_int
from tinydl.layers import _shapes
from tinydl.layers.activations import WithActivation, get_activation
from tinydl.layers.base import Layer
from tinydl.layers.conv import explicit_padding


def _padding(padding, owner):
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{owner}: padding must be 'valid' or 'same'. Received: padding={padding!r}")
    return padding.lower()


def _depthwise_init(initializer, C, M, kernel):
    """Draw the (C*M, 1, kh, kw) kernel with Keras's fans for its (kh, kw, C, M) kernel:
    fan_in = C*kh*kw, fan_out = M*kh*kw (drawn as (M, C, kh, kw), then reshaped)."""
    init = initializers.get(initializer)

    def draw(shape, dtype, rng):
        return init((M, C) + tuple(kernel), dtype, rng).reshape(shape)
    return draw


def _out_hw(padding, hw, kernel, strides):
    pt, pb, pl, pr = explicit_padding(padding, hw, kernel, strides)
    return ((hw[0] + pt + pb - kernel[0]) // strides[0] + 1, (hw[1] + pl + pr - kernel[1]) // strides[1] + 1)


class DepthwiseConv2D(WithActivation, Layer):
    """Each input channel convolved with its own ``depth_multiplier`` kernels; channels never mix:
    x (N, C, H, W) -> y (N, C*M, OH, OW), output channel c*M + m from input channel c.
    OH, OW as Conv2D's ("valid": (H - kh) // s + 1; "same": ceil(H / s)).

    Attributes: kernel (C*M, 1, kh, kw), PyTorch's Conv2d(groups=C) layout (Keras stores
    (kh, kw, C, M)); bias (C*M,). Parameters: C*M*kh*kw (+ C*M), against a full Conv2D's
    C*F*kh*kw."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, activation=None,
                 use_bias=True, depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        owner = type(self).__name__
        self.kernel_size = pair(kernel_size, "kernel_size", 1, owner)
        self.strides = pair(strides, "strides", 1, owner)
        self.padding = _padding(padding, owner)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", owner)
        self.activation = get_activation(activation, owner=owner)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = depthwise_initializer
        self.bias_initializer = bias_initializer
        self.kernel = self.bias = None
        self._cache = None

    def build(self, input_shape):
        # input_shape (C, H, W) -> W (C*M, 1, kh, kw), b (C*M,)
        _shapes.check_image_input(self.name, input_shape)
        self.in_channels = input_shape[0]
        cm = self.in_channels * self.depth_multiplier
        init = _depthwise_init(self.depthwise_initializer, self.in_channels, self.depth_multiplier,
                               self.kernel_size)
        self.kernel = self.add_weight("kernel", (cm, 1) + self.kernel_size, init)
        if self.use_bias:
            self.bias = self.add_weight("bias", (cm,), self.bias_initializer)

    def call(self, x, training=False, apply_activation=True):
        pad = explicit_padding(self.padding, tuple(x.shape[2:4]), self.kernel_size, self.strides)
        bias = self.bias.value if self.use_bias else None
        out, self._cache = ops.depthwise_conv2d_forward(x, self.kernel.value, bias, self.strides, pad)
        return self._activate(out, training, apply_activation)

    def backward(self, dout):
        dout = self._activation_backward(dout)
        dx, dw, db = ops.depthwise_conv2d_backward(dout, self._cache)
        self.kernel.accumulate_grad(dw)
        if self.use_bias:
            self.bias.accumulate_grad(db)
        return dx

    def compute_output_shape(self, input_shape):
        C, H, W = input_shape
        return (C * self.depth_multiplier,) + _out_hw(self.padding, (H, W), self.kernel_size, self.strides)

    def get_config(self):
        act = self.activation
        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "depth_multiplier": self.depth_multiplier,
                "use_bias": self.use_bias, "activation": None if act is None else type(act).__name__.lower(),
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class SeparableConv2D(WithActivation, Layer):
    """Depthwise-separable convolution: a DepthwiseConv2D (no bias), then a 1x1 Conv2D mixing
    the channels: x (N, C, H, W) -> (N, C*M, OH, OW) -> y (N, filters, OH, OW).

    Attributes: depthwise_kernel (C*M, 1, kh, kw), pointwise_kernel (filters, C*M, 1, 1), bias
    (filters,). Parameters C*M*kh*kw + C*M*filters against Conv2D's C*filters*kh*kw: with M = 1 a
    fraction 1/filters + 1/(kh*kw) of them (docs/kernels.md measures what that buys in time)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros",
                 input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        owner = type(self).__name__
        self.filters = positive_int(filters, "filters", owner)
        self.kernel_size = pair(kernel_size, "kernel_size", 1, owner)
        self.strides = pair(strides, "strides", 1, owner)
        self.padding = _padding(padding, owner)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", owner)
        self.activation = get_activation(activation, owner=owner)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = depthwise_initializer
        self.pointwise_initializer = pointwise_initializer
        self.bias_initializer = bias_initializer
        self.depthwise_kernel = self.pointwise_kernel = self.bias = None
        self._caches = None

    def build(self, input_shape):
        _shapes.check_image_input(self.name, input_shape)
        self.in_channels = input_shape[0]
        cm = self.in_channels * self.depth_multiplier
        init = _depthwise_init(self.depthwise_initializer, self.in_channels, self.depth_multiplier,
                               self.kernel_size)
        self.depthwise_kernel = self.add_weight("depthwise_kernel", (cm, 1) + self.kernel_size, init)
        self.pointwise_kernel = self.add_weight("pointwise_kernel", (self.filters, cm, 1, 1),
                                                self.pointwise_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)

    def call(self, x, training=False, apply_activation=True):
        # step 1: depthwise (N, C, H, W) -> (N, C*M, OH, OW); step 2: pointwise 1x1 -> (N, filters, OH, OW)
        pad = explicit_padding(self.padding, tuple(x.shape[2:4]), self.kernel_size, self.strides)
        mid, dw_cache = ops.depthwise_conv2d_forward(x, self.depthwise_kernel.value, None, self.strides, pad)
        bias = self.bias.value if self.use_bias else None
        out, pw_cache = ops.conv2d_forward(mid, self.pointwise_kernel.value, bias, 1, 0)
        self._caches = (dw_cache, pw_cache)
        return self._activate(out, training, apply_activation)

    def backward(self, dout):
        dw_cache, pw_cache = self._caches
        dout = self._activation_backward(dout)
        dmid, dpw, db = ops.conv2d_backward(dout, pw_cache)
        dx, ddw, _ = ops.depthwise_conv2d_backward(dmid, dw_cache)
        self.pointwise_kernel.accumulate_grad(dpw)
        self.depthwise_kernel.accumulate_grad(ddw)
        if self.use_bias:
            self.bias.accumulate_grad(db)
        return dx

    def compute_output_shape(self, input_shape):
        _, H, W = input_shape
        return (self.filters,) + _out_hw(self.padding, (H, W), self.kernel_size, self.strides)

    def get_config(self):
        act = self.activation
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "depth_multiplier": self.depth_multiplier, "use_bias": self.use_bias,
                "activation": None if act is None else type(act).__name__.lower(),
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}
