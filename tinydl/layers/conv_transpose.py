"""Conv2DTranspose: the transposed convolution, which is Conv2D's input gradient as a layer."""
from tinydl import initializers, ops
from tinydl._validate import pair, positive_int
from tinydl.layers import _shapes
from tinydl.layers.activations import WithActivation, get_activation
from tinydl.layers.base import Layer
from tinydl.layers.conv import explicit_padding
from tinydl.ops.conv2d_transpose import transpose_output_size


class Conv2DTranspose(WithActivation, Layer):
    """y = activation(conv_transpose(x, W) + b): x (N, C, H, W) -> y (N, filters, OH, OW).

    The link to Conv2D: the gradient of a convolution with respect to its input is a full
    convolution of dout with the flipped kernel; run forward, that same computation is this
    layer. So its forward IS conv2d's input-gradient kernel and its backward is conv2d's forward
    (for dx) and weight gradient (for dW) (tinydl.ops.conv2d_transpose_forward; docs/kernels.md).

    Shape, per spatial axis (k kernel, s stride), as in Keras:
        padding="valid": OH = H * s + max(k - s, 0)        (= (H - 1) * s + k when k >= s)
        padding="same":  OH = H * s                          (crops what Conv2D "same" pads,
                                                              the odd row at the bottom/right)
        output_padding=op given: OH = (H - 1) * s + k - 2 * pad + op, pad = 0 ("valid") or
                                  k // 2 ("same"), each op < s (PyTorch's ConvTranspose2d rule)
    Attributes: kernel (C, filters, kh, kw), PyTorch's ConvTranspose2d layout (Keras stores
    (kh, kw, filters, C)); it is the kernel of the Conv2D that maps y back to x's shape.
    bias (filters,).
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        owner = "Conv2DTranspose"
        self.filters = positive_int(filters, "filters", owner)
        self.kernel_size = pair(kernel_size, "kernel_size", 1, owner)
        self.strides = pair(strides, "strides", 1, owner)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"{owner}: padding must be 'valid' or 'same'. Received: padding={padding!r}")
        self.padding = padding.lower()
        self.output_padding = None if output_padding is None else pair(output_padding, "output_padding", 0, owner)
        if self.output_padding is not None and any(
                o >= s for o, s in zip(self.output_padding, self.strides, strict=True)):
            raise ValueError(f"{owner}: output_padding must be smaller than strides {self.strides} on "
                             f"each axis. Received: output_padding={output_padding!r}")
        self.activation = get_activation(activation, owner=owner)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel = self.bias = None
        self._cache = None

    def build(self, input_shape):
        # input_shape (C, H, W) -> W (C, filters, kh, kw), b (filters,)
        _shapes.check_image_input(self.name, input_shape)
        self.in_channels = input_shape[0]
        self.kernel = self.add_weight(
            "kernel", (self.in_channels, self.filters) + self.kernel_size, self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)

    def _geometry(self, hw):
        """(padding (pt, pb, pl, pr) of the matching convolution, output size (OH, OW))."""
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        if self.output_padding is not None:
            pads = (kh // 2, kw // 2) if self.padding == "same" else (0, 0)
            size = tuple(transpose_output_size(n, k, s, p, p, o) for n, k, s, p, o
                         in zip(hw, self.kernel_size, self.strides, pads, self.output_padding, strict=True))
            return (pads[0], pads[0], pads[1], pads[1]), size
        if self.padding == "same":
            size = (hw[0] * sh, hw[1] * sw)
            return explicit_padding("same", size, self.kernel_size, self.strides), size
        return (0, 0, 0, 0), (hw[0] * sh + max(kh - sh, 0), hw[1] * sw + max(kw - sw, 0))

    def call(self, x, training=False, apply_activation=True):
        pad, size = self._geometry(tuple(x.shape[2:4]))
        bias = self.bias.value if self.use_bias else None
        out, self._cache = ops.conv2d_transpose_forward(x, self.kernel.value, bias, self.strides, pad, size)
        return self._activate(out, training, apply_activation)

    def backward(self, dout):
        dout = self._activation_backward(dout)
        dx, dw, db = ops.conv2d_transpose_backward(dout, self._cache)
        self.kernel.accumulate_grad(dw)
        if self.use_bias:
            self.bias.accumulate_grad(db)
        return dx

    def compute_output_shape(self, input_shape):
        return (self.filters,) + self._geometry(tuple(input_shape[1:3]))[1]

    def get_config(self):
        act = self.activation
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "output_padding": self.output_padding, "use_bias": self.use_bias,
                "activation": None if act is None else type(act).__name__.lower(),
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}
