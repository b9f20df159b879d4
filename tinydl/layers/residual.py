"""Residual: y = block(x) + shortcut(x)."""
from tinydl import ops
from tinydl.layers.base import Layer
from tinydl.layers.serialization import deserialize, serialize


def _as_list(layers, what):
    layers = list(layers) if isinstance(layers, (list, tuple)) else [layers]
    for layer in layers:
        if not isinstance(layer, Layer):
            raise TypeError(f"Residual: {what} must be a Layer or a list of Layers. "
                            f"Received: {type(layer).__name__}")
    return layers


class Residual(Layer):
    """y = block(x) + shortcut(x); ``block`` a layer or a list of layers, ``shortcut`` None
    (the identity) or a layer / list (e.g. [Conv2D(c, 1, strides=2), BatchNormalization()]).
    The backward runs dout through both paths and sums their input gradients."""

    def __init__(self, block, shortcut=None, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.block = _as_list(block, "block")
        if not self.block:
            raise ValueError("Residual: block must hold at least one layer. Received: block=[]")
        self.shortcut = [] if shortcut is None else _as_list(shortcut, "shortcut")
        for layer in self.block + self.shortcut:
            self.track(layer)

    def build(self, input_shape):
        # build every sublayer from the shape flowing through its path, in this layer's dtype
        for path in (self.block, self.shortcut):
            shape = tuple(input_shape)
            for layer in path:
                layer._ensure_built(shape, self.dtype)
                shape = layer.compute_output_shape(shape)
        out_block, out_short = self._path_shape(self.block, input_shape), self._path_shape(self.shortcut, input_shape)
        if out_block != out_short:
            raise ValueError(f"{self.name}: block and shortcut must give the same shape; "
                             f"block gives {out_block}, shortcut gives {out_short} for input {tuple(input_shape)}")

    @staticmethod
    def _path_shape(path, shape):
        shape = tuple(shape)
        for layer in path:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def call(self, x, training=False):
        h = x
        for layer in self.block:
            h = layer(h, training=training)
        s = x
        for layer in self.shortcut:
            s = layer(s, training=training)
        return ops.add(h, s)

    def backward(self, dout):
        dh = dout
        for layer in reversed(self.block):
            dh = layer.backward(dh)
        ds = dout
        for layer in reversed(self.shortcut):
            ds = layer.backward(ds)
        return ops.add(dh, ds)

    def compute_output_shape(self, input_shape):
        return self._path_shape(self.block, input_shape)

    def get_config(self):
        # the children as {"class_name", "config"}, rebuilt by from_config
        return {**super().get_config(), "block": [serialize(layer) for layer in self.block],
                "shortcut": [serialize(layer) for layer in self.shortcut] or None}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["block"] = [deserialize(d) for d in config["block"]]
        config["shortcut"] = [deserialize(d) for d in config.get("shortcut") or []] or None
        return super().from_config(config)
