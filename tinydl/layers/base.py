"""Layer: the base class of every layer, in Keras's order.

    __init__   validate the arguments and say what was received
    build      create the Parameters from the input shape (without the batch axis)
    call       the forward pass (through tinydl.ops: no arithmetic on arrays here)
    backward   dLoss/dInput from dLoss/dOutput; parameter gradients accumulate into .grad
    compute_output_shape, get_config

Calling a layer (``Layer.__call__``) does the bookkeeping around ``call``, in one place:
    - on symbolic tensors (``td.Input``): build from their shapes and record a graph Node
    - on arrays: build from the first input, run ``call``, and when a model or a GradientTape
      is recording, put the call on its tape with the state the call left (tinydl/tape.py)
``backward`` is wrapped once per class so that a float ``dout`` of another precision is cast
to the layer's dtype at the layer boundary (the ops themselves stay strict).
"""
import functools
import inspect
import re

import numpy as np

from tinydl import device as _device
from tinydl import initializers
from tinydl import random as _random
from tinydl import tape as _tape
from tinydl.layers.symbolic import KerasTensor, Node, map_structure, symbolic_in
from tinydl.parameter import Parameter

_counts: dict[str, int] = {}


def _auto_name(cls_name: str) -> str:
    """Keras's snake case: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, ReLU -> re_lu."""
    base = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", cls_name)
    base = re.sub("([a-z])([A-Z])", r"\1_\2", base).lower()
    n = _counts.get(base, 0)
    _counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def float_dtype(x) -> np.dtype:
    """The float dtype a layer computes in for input ``x``: float64 stays, all else float32."""
    return np.dtype(np.float64) if np.dtype(x.dtype) == np.float64 else np.dtype(np.float32)


def _sample_shapes(x):
    """The per-sample shape (no batch axis) of an array, or a list of them for a list."""
    if isinstance(x, (list, tuple)):
        return [_sample_shapes(v) for v in x]
    return tuple(int(d) for d in x.shape[1:])


def _first_array(x):
    arrays = _tape.flatten(x)
    if not arrays:
        raise TypeError(f"a layer needs an array (or a list of arrays) as input; received {type(x).__name__}")
    return arrays[0]


def _cast_dout(dout, dtype):
    """A float NumPy ``dout`` of another precision, as ``dtype`` (the forward's)."""
    if isinstance(dout, dict):
        return {k: _cast_dout(d, dtype) for k, d in dout.items()}
    if isinstance(dout, (list, tuple)):
        return type(dout)(_cast_dout(d, dtype) for d in dout)
    if dtype is not None and isinstance(dout, np.ndarray) and dout.dtype.kind == "f" and dout.dtype != dtype:
        return dout.astype(dtype)
    return dout


def _distinct(out, args):
    """A call that returns one of its inputs (an identity) returns a view instead, so the tape
    can tell the two arrays apart."""
    ins = {id(a) for a in _tape.flatten(args)}
    if isinstance(out, (list, tuple)):
        return type(out)(_distinct(o, args) for o in out)
    if id(out) in ins:
        return out.view() if isinstance(out, np.ndarray) else out[:]
    return out


def _recorded(call_fn):
    """Wrap a ``__call__``: symbolic inputs make a graph node; a recording tape gets the call."""
    @functools.wraps(call_fn)
    def __call__(self, *args, **kwargs):
        if symbolic_in(args):
            return self._symbolic_call(args, kwargs, call_fn)
        tape = _tape.active()
        if tape is None:
            return call_fn(self, *args, **kwargs)
        with _tape.recording(None):                 # calls made inside are this layer's business
            out = call_fn(self, *args, **kwargs)
        out = _distinct(out, args)
        tape.record(self, args, out, _tape.capture(self._state_objects()))
        return out
    __call__._tinydl_recorded = True
    return __call__


def _cast_backward(backward):
    @functools.wraps(backward)
    def wrapper(self, dout, *args, **kwargs):
        return backward(self, _cast_dout(dout, self.dtype), *args, **kwargs)
    wrapper._tinydl_cast = True
    return wrapper


@functools.cache
def _takes_training(call_fn) -> bool:
    params = inspect.signature(call_fn).parameters
    return "training" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class Layer:
    def __init__(self, input_shape=None, name=None, trainable=True):
        self.name = name or _auto_name(type(self).__name__)
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.built = False
        self.dtype = None
        self.trainable = trainable
        self._params: list[Parameter] = []
        self._sublayers: list[Layer] = []
        self._inbound_nodes: list[Node] = []

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if "__call__" in own and not getattr(own["__call__"], "_tinydl_recorded", False):
            cls.__call__ = _recorded(own["__call__"])
        if "backward" in own and not getattr(own["backward"], "_tinydl_cast", False):
            cls.backward = _cast_backward(own["backward"])

    # -- building ---------------------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for an input of ``input_shape`` (no batch axis)."""
        self.built = True

    def _ensure_built(self, input_shape, dtype):
        if not self.built:
            self.dtype = np.dtype(dtype)
            self._build_input_shape = input_shape   # what a saved model is rebuilt from
            self.build(list(input_shape) if isinstance(input_shape, list) else tuple(input_shape))
            self.built = True

    def add_weight(self, name, shape, initializer="zeros", trainable=True):
        init = initializers.get(initializer)
        value = init(tuple(shape), self.dtype or np.float32, _random.generator())
        p = Parameter(_device.to_device(value), name=f"{self.name}/{name}", trainable=trainable)
        self._params.append(p)
        return p

    def track(self, layer: "Layer") -> "Layer":
        """Register a child layer, so its weights are this layer's weights too."""
        self._sublayers.append(layer)
        return layer

    # -- forward and backward ---------------------------------------------------------------
    @_recorded
    def __call__(self, inputs, *more, training=False, **kwargs):
        if more:                                    # layer(a, b) is layer([a, b])
            inputs = [inputs, *more]
        self._ensure_built(_sample_shapes(inputs), float_dtype(_first_array(inputs)))
        return self._run(inputs, training, kwargs)

    def _run(self, inputs, training, kwargs):
        if _takes_training(type(self).call):
            return self.call(inputs, training=training, **kwargs)
        return self.call(inputs, **kwargs)

    def call(self, x, training=False):
        raise NotImplementedError(f"{type(self).__name__} must define call(self, x, training=False)")

    def backward(self, dout):
        raise NotImplementedError(
            f"{type(self).__name__} has no backward pass: tinydl has no tensor autograd, so a "
            "custom layer must define backward(self, dout) returning dLoss/dInput")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        """The constructor's arguments as JSON values: ``type(layer).from_config(config)``
        builds an equal layer. Each layer adds its own arguments to these."""
        return {"name": self.name, "trainable": getattr(self, "trainable", True),
                "dtype": None if self.dtype is None else np.dtype(self.dtype).name,
                "input_shape": None if self.input_shape is None else list(self.input_shape)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        trainable, dtype = config.pop("trainable", True), config.pop("dtype", None)
        layer = cls(**config)
        if not trainable:
            layer.trainable = False
        if dtype is not None:
            layer.dtype = np.dtype(dtype)
        return layer

    # -- graph ------------------------------------------------------------------------------
    def _symbolic_call(self, args, kwargs, call_fn):
        """Build from the symbolic inputs' shapes and record a Node; returns its KerasTensor(s)."""
        kwargs = {k: v for k, v in kwargs.items() if k != "training"}
        tensors = symbolic_in(args)
        dtype = tensors[0].dtype
        if type(self).__call__ is Layer.__call__:
            x = args[0] if len(args) == 1 else list(args)
            shapes = map_structure(lambda t: tuple(t.shape[1:]), x)
            self._ensure_built(shapes, dtype)
            out_shape = self.compute_output_shape(shapes)
        else:                                       # an own __call__: run it on one zero sample
            dummy = map_structure(lambda t: np.zeros((1,) + tuple(t.shape[1:]), t.dtype), args)
            with _tape.recording(None):
                out = call_fn(self, *dummy, training=False, **kwargs)
            out_shape = map_structure(lambda a: tuple(a.shape[1:]), out)
        node = Node(self, args, kwargs)
        multi = isinstance(out_shape, list) and all(isinstance(s, (tuple, list)) for s in out_shape)
        out_dtype = self.dtype or dtype
        for i, shape in enumerate(out_shape if multi else [out_shape]):
            name = f"{self.name}_{len(self._inbound_nodes)}" + (f"_{i}" if multi else "")
            node.outputs.append(KerasTensor(shape, out_dtype, node, i, name=name))
        self._inbound_nodes.append(node)
        return list(node.outputs) if multi else node.outputs[0]

    def _state_objects(self):
        """This layer and every layer reachable through its attributes: whose attributes one
        call of this layer may set (its caches, its activation's cache, a block's caches)."""
        seen, out, todo = set(), [], [self]
        while todo:
            layer = todo.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            if layer is not self and getattr(layer, "_is_model", False):
                continue                            # a model's state is its own tape
            for v in layer.__dict__.values():
                items = v if isinstance(v, (list, tuple)) else v.values() if isinstance(v, dict) else [v]
                todo.extend(item for item in items if isinstance(item, Layer))
        return out

    def _single_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"layer {self.name!r} has no {what}: it was never called on a "
                                 "symbolic tensor (td.Input)")
        if len(self._inbound_nodes) > 1:
            raise AttributeError(f"layer {self.name!r} was called at {len(self._inbound_nodes)} places "
                                 f"in graphs, so its {what} is ambiguous")
        return self._inbound_nodes[0]

    @property
    def output(self):
        """The symbolic output of the layer's one call in a graph (feature extraction)."""
        outs = self._single_node("output").outputs
        return outs[0] if len(outs) == 1 else list(outs)

    @property
    def input(self):
        node = self._single_node("input")
        return node.args[0] if len(node.args) == 1 else list(node.args)

    # -- weights ----------------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value):
        """False freezes the layer and every layer inside it, as in Keras 3: their weights move to
        non_trainable_weights, and a BatchNormalization among them runs in inference mode."""
        self._trainable = bool(value)
        for layer in self._child_layers():
            layer.trainable = value

    def _child_layers(self) -> list["Layer"]:
        """The layers inside this one (none while it is being constructed)."""
        return list(self.__dict__.get("_sublayers", ()))

    @property
    def weights(self) -> list[Parameter]:
        out = list(self._params)
        for layer in self._sublayers:
            out.extend(layer.weights)
        return out

    @property
    def trainable_weights(self) -> list[Parameter]:
        if not self.trainable:
            return []
        own = [p for p in self._params if p.trainable]
        return own + [p for layer in self._sublayers for p in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[Parameter]:
        if not self.trainable:
            return self.weights
        own = [p for p in self._params if not p.trainable]
        return own + [p for layer in self._sublayers for p in layer.non_trainable_weights]

    @property
    def trainable_variables(self):
        return self.trainable_weights

    def get_weights(self) -> list[np.ndarray]:
        return [_device.to_numpy(p.value).copy() for p in self.weights]

    def set_weights(self, arrays) -> None:
        """Set every weight from ``arrays``; each is checked (count, shape, a number castable to
        the layer's dtype) before any is assigned, so a refused call changes nothing."""
        params = self.weights
        hosts = check_weight_arrays(params, arrays, f"layer {self.name!r}")
        for p, host in zip(params, hosts, strict=True):
            p.value = _device.to_device(host, _device_of(p.value))

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"count_params of layer {self.name!r}: the layer is not built yet; "
                             "call it on data (or on td.Input) or build it first")
        return sum(p.size for p in self.weights)

    def zero_grad(self) -> None:
        for p in self.weights:
            p.zero_grad()

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def check_weight_arrays(params, arrays, owner):
    """``arrays`` as host copies in each parameter's dtype, C order; raises before any is
    assigned when the count, a shape, or a dtype (strings, objects) does not fit."""
    arrays = list(arrays)
    if len(arrays) != len(params):
        raise ValueError(f"{owner} expects {len(params)} weight arrays; received {len(arrays)}")
    hosts = []
    for p, a in zip(params, arrays, strict=True):
        a = _device.to_numpy(a) if _device.is_device_array(a) else np.asarray(a)
        if tuple(a.shape) != p.shape:
            raise ValueError(f"weight {p.name!r} expects shape {p.shape}; received {tuple(a.shape)}")
        if a.dtype.kind not in "biuf":
            raise TypeError(f"weight {p.name!r} needs numbers castable to {np.dtype(p.dtype)}; "
                            f"received an array of dtype {a.dtype}")
        hosts.append(np.array(a, dtype=p.dtype, order="C"))   # the layer's dtype, a copy
    return hosts


def _device_of(a) -> str:
    return "cuda" if _device.is_device_array(a) else "cpu"
