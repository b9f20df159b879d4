"""Sequential: the linear case of a functional graph.

    Sequential([layers.Input((2,)), layers.Dense(16), ...])   built at construction
    Sequential([layers.Dense(16), ...])                       built from the first batch

Each add / pop rebuilds the chain input -> layer_1 -> ... -> layer_n (a Model graph), so
everything a Model does (tape backward, fusion plan, summary, get_config) holds here too.
"""
import numpy as np

from tinydl.layers.base import Layer, float_dtype
from tinydl.layers.input_layer import InputLayer
from tinydl.layers.symbolic import KerasTensor
from tinydl.models.model import Model


class Sequential(Model):
    _is_sequential = True

    def __init__(self, layers=None, name=None, trainable=True):
        self._layers: list[Layer] = []
        self._input_tensor = None           # the td.Input the model was given, if any
        self._made_nodes = []               # (layer, node) of the current chain
        super().__init__(name=name or "sequential", trainable=trainable)
        for layer in layers or []:
            self.add(layer)

    # -- structure --------------------------------------------------------------------------
    def add(self, layer):
        if isinstance(layer, InputLayer):
            layer = layer.output
        if isinstance(layer, KerasTensor):
            if self._layers or self._input_tensor is not None:
                raise ValueError("an Input can only be the first entry of a Sequential")
            if not isinstance(layer.node.layer, InputLayer):
                raise ValueError("a Sequential starts from a td.Input tensor; received the output "
                                 f"of layer {layer.node.layer.name!r}")
            self._input_tensor = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a tinydl Layer; received {type(layer).__name__}")
        if layer is self:
            raise ValueError("a Sequential cannot contain itself")
        self._layers.append(layer)
        try:
            self._rebuild()
        except Exception:
            self._layers.pop()
            self._rebuild()
            raise

    def pop(self):
        """Remove the last layer (and return it)."""
        if not self._layers:
            raise TypeError("pop: the Sequential has no layers")
        layer = self._layers.pop()
        self._rebuild()
        return layer

    @property
    def layers(self):
        return list(self._layers)

    @property
    def input_shape(self):
        if self._input_tensor is not None:
            return tuple(self._input_tensor.shape[1:])
        if self._graph:
            return tuple(self._inputs[0].shape[1:])
        if self._layers and self._layers[0].input_shape is not None:
            return tuple(self._layers[0].input_shape)
        return None

    @input_shape.setter
    def input_shape(self, value):            # Layer.__init__ sets it; the chain decides it here
        pass

    def _rebuild(self, shape=None, dtype=None):
        """The chain from the input to the last layer, as a graph (when the shape is known)."""
        for layer, node in self._made_nodes:
            if node in layer._inbound_nodes:
                layer._inbound_nodes.remove(node)
        self._made_nodes = []
        shape = shape or self.input_shape
        if shape is None or not self._layers:
            self._graph, self.built = False, False
            return
        x = self._input_tensor
        if x is None:
            x = InputLayer(shape).output
            dtype = np.dtype(dtype or (self.dtype if self._dtype_fixed and self.dtype else np.float32))
            x.dtype = x.node.layer.dtype = dtype
        inp = x
        for layer in self._layers:
            before = len(layer._inbound_nodes)
            x = layer(x)
            self._made_nodes += [(layer, n) for n in layer._inbound_nodes[before:]]
        self._init_graph(inp, x)

    # -- building ---------------------------------------------------------------------------
    def build(self, input_shape=None, dtype=None):
        """Create every layer's weights: from ``input_shape`` (no batch axis), or the Input's."""
        if self._graph:
            return Model.build(self, dtype=dtype)
        shape = tuple(input_shape) if input_shape else self.input_shape
        if not shape:
            raise ValueError("the model has no input shape: start it with layers.Input(shape) or call it on data")
        self._rebuild(shape, dtype or np.float32)
        if dtype is not None:
            self._dtype_fixed = True

    def _ensure_built(self, input_shape, dtype):
        if not self._graph:
            self.build(input_shape, dtype)

    def _prepare_inputs(self, inputs):
        if not self._graph and inputs is not None and hasattr(inputs, "shape"):
            self.build(tuple(inputs.shape[1:]), float_dtype(inputs))
        if not self._graph:
            raise ValueError("the model has no input shape: start it with layers.Input(shape) or call it on data")
        return Model._prepare_inputs(self, inputs)

    def _require_built(self, what):
        if not self._graph:
            if self.input_shape is None:
                raise ValueError(f"{what} needs a built model: start it with layers.Input(shape), "
                                 "or call it on data first")
            self.build()

    # -- config -----------------------------------------------------------------------------
    def get_config(self):
        """Keras's form: {"name", "layers"}, the layers' configs in order, led by the
        InputLayer when the model was given a td.Input (one built from data is rebuilt from
        the shape and dtype a saved file records, tinydl/saving.py)."""
        from tinydl.layers import serialization

        head = [] if self._input_tensor is None else [self._input_tensor.node.layer]
        return {"name": self.name, "layers": [serialization.serialize(layer) for layer in head + self._layers]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from tinydl.layers import serialization

        layers = [serialization.deserialize(c, custom_objects=custom_objects) for c in config["layers"]]
        return cls(layers, name=config.get("name"))
