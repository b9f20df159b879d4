"""MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D over NCHW images."""
from tinydl import ops
from tinydl._validate import pair
from tinydl.layers import _shapes
from tinydl.layers.activations import WithTrailingReLU
from tinydl.layers.base import Layer
from tinydl.layers.conv import explicit_padding, window_output_shape


class _Pooling2D(WithTrailingReLU, Layer):
    _forward = _backward = None   # the op pair, set by each subclass

    def __init__(self, pool_size=2, strides=None, padding="valid", input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        owner = type(self).__name__
        self.pool_size = pair(pool_size, "pool_size", 1, owner)
        self.strides = self.pool_size if strides is None else pair(strides, "strides", 1, owner)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"{owner}: padding must be 'valid' or 'same'. Received: padding={padding!r}")
        self.padding = padding.lower()
        self._cache = None

    def build(self, input_shape):
        self.compute_output_shape(input_shape)          # raises when an output axis is <= 0
        _shapes.warn_if_channels_last(input_shape)

    def call(self, x, training=False, fused_relu=False):
        """fused_relu (MaxPooling2D only): return ReLU(pool(x)), which equals pool(ReLU(x)) with
        the same gradient (the maximum commutes with the monotone ReLU, ties included) on a
        quarter of the elements; a model passes it when a plain ReLU precedes this layer."""
        if fused_relu and not isinstance(self, MaxPooling2D):
            raise ValueError(f"{self.name}: only a max-pool can take the ReLU before it; "
                             f"received fused_relu=True on a {type(self).__name__}")
        pad = explicit_padding(self.padding, tuple(x.shape[2:4]), self.pool_size, self.strides)
        out, self._cache = type(self)._forward(x, self.pool_size, self.strides, pad)
        return self._relu_after(out, fused_relu)

    def backward(self, dout):
        return type(self)._backward(self._relu_backward(dout), self._cache)

    def compute_output_shape(self, input_shape):
        return window_output_shape(self.name, input_shape, None, self.pool_size, self.strides,
                                   self.padding)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}


class MaxPooling2D(_Pooling2D):
    """The maximum of each window ('same' pads with -inf). Ties: the first maximum gets the gradient."""
    _forward = staticmethod(ops.maxpool2d_forward)
    _backward = staticmethod(ops.maxpool2d_backward)


class AveragePooling2D(_Pooling2D):
    """The mean of each window; with 'same', padded positions are not counted (as in Keras)."""
    _forward = staticmethod(ops.avgpool2d_forward)
    _backward = staticmethod(ops.avgpool2d_backward)


class GlobalAveragePooling2D(Layer):
    """(N, C, H, W) -> (N, C): the mean of each channel."""

    def call(self, x, training=False):
        out, self._cache = ops.global_avgpool2d_forward(x)
        return out

    def backward(self, dout):
        return ops.global_avgpool2d_backward(dout, self._cache)

    def build(self, input_shape):
        _shapes.check_image_input(self.name, input_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)
