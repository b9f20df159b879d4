"""GlobalMaxPooling2D: the maximum of each channel, through maxpool2d with one (H, W) window."""
from tinydl import ops
from tinydl.layers.base import Layer
from tinydl.ops import _checks


class GlobalMaxPooling2D(Layer):
    """x (N, C, H, W) -> y (N, C) (or (N, C, 1, 1) with keepdims=True): the maximum of each
    channel's plane. It is max pooling with one window the size of the plane (pool = stride =
    (H, W)), so the gradient goes to the FIRST maximum in row-major order, as in PyTorch."""

    def __init__(self, keepdims=False, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        if not isinstance(keepdims, bool):
            raise ValueError(f"GlobalMaxPooling2D: keepdims must be True or False. "
                             f"Received: keepdims={keepdims!r}")
        self.keepdims = keepdims
        self._cache = None

    def call(self, x, training=False):
        x = _checks.as_float(x, "GlobalMaxPooling2D input")
        _checks.ndim(x, f"{self.name} input x (N, C, H, W)", 4)
        plane = tuple(x.shape[2:4])
        out, self._cache = ops.maxpool2d_forward(x, plane, plane, 0)     # (N, C, 1, 1)
        return out if self.keepdims else out.reshape(out.shape[:2])

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward called before a forward pass")
        dout = _checks.as_float(dout, "GlobalMaxPooling2D dout")
        if not self.keepdims:
            _checks.ndim(dout, f"{self.name} dout (N, C)", 2)
            dout = dout.reshape(tuple(dout.shape) + (1, 1))
        return ops.maxpool2d_backward(dout, self._cache)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1) if self.keepdims else (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}
