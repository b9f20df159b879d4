"""Model: a layer made of layers, in one of two forms (Keras 3's names).

    functional   Model(inputs, outputs): a graph of layer calls on td.Input tensors, built at
                 construction (its weights exist at once)
    subclassed   class Net(Model): layers as attributes (tracked as they are assigned),
                 call(self, x, training=False) in plain Python

Both run the same way: a forward records every top-level layer call on a fresh tape
(tinydl/tape.py) and ``backward(dout)`` replays that tape in reverse, summing gradients where a
tensor fed several layers. A model is itself a Layer, so it can be used inside another model.
Training (compile / fit / evaluate / predict) is in training.py; Sequential in sequential.py.
"""
import numpy as np

from tinydl import device as _device
from tinydl import saving as _saving
from tinydl import tape as _tape
from tinydl.layers import _shapes
from tinydl.layers.base import Layer, _auto_name, check_weight_arrays, float_dtype
from tinydl.layers.input_layer import InputLayer
from tinydl.layers.symbolic import KerasTensor
from tinydl.models import functional as _graph
from tinydl.models import summary as _summary
from tinydl.models.training import Trainer


def _layers_in(value):
    items = value if isinstance(value, (list, tuple)) else [value]
    return [v for v in items if isinstance(v, Layer)]


class Model(Trainer, Layer):
    _is_model = True

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True):
        object.__setattr__(self, "_tracked", [])
        Layer.__init__(self, name=name or _auto_name("functional" if inputs is not None else type(self).__name__),
                       trainable=trainable)
        self.device = None                  # None: follow td.get_device()
        self._graph = False
        self._dtype_fixed = False
        self._last_tape = None
        self.stop_training = False
        self._init_training()
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("a functional Model needs both inputs= and outputs=")
            self._init_graph(inputs, outputs)

    def __setattr__(self, name, value):
        if "_tracked" not in self.__dict__ and _layers_in(value):
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning layers")
        if not name.startswith("_"):
            for layer in _layers_in(value):
                if layer is not self and all(layer is not t for t in self._tracked):
                    self._tracked.append(layer)
        object.__setattr__(self, name, value)

    # -- the graph --------------------------------------------------------------------------
    def _init_graph(self, inputs, outputs):
        self._input_keys = list(inputs) if isinstance(inputs, dict) else None
        self._output_keys = list(outputs) if isinstance(outputs, dict) else None
        self._single_input = isinstance(inputs, KerasTensor)
        self._single_output = isinstance(outputs, KerasTensor)
        self._inputs = _graph.flat_tensors(inputs, "inputs")
        self._outputs = _graph.flat_tensors(outputs, "outputs")
        self._nodes = _graph.nodes(self._inputs, self._outputs)
        self._relu_plan = _graph.relu_plan(self._nodes, self._outputs)
        self._graph = True
        self.dtype = self._inputs[0].dtype
        self.built = True
        self._refresh_plan()

    @property
    def inputs(self):
        self._require_graph("inputs")
        return list(self._inputs)

    @property
    def outputs(self):
        self._require_graph("outputs")
        return list(self._outputs)

    def _require_graph(self, what):
        if not self._graph:
            raise AttributeError(f"{self.name} has no {what}: it is not a graph of td.Input calls "
                                 "(a subclassed model, or a Sequential without an input shape yet)")

    @property
    def layers(self):
        """The layers in order (each once; Input layers excluded)."""
        if self._graph:
            seen, out = set(), []
            for node in self._nodes:
                if id(node.layer) not in seen and not isinstance(node.layer, InputLayer):
                    seen.add(id(node.layer))
                    out.append(node.layer)
            return out
        return list(self._tracked)

    def _child_layers(self):
        return self.layers if "_graph" in self.__dict__ else []

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` (or at ``index`` of model.layers)."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"{self.name} has {len(layers)} layers; received index={index}")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r} in {self.name}; its layers are {[l.name for l in layers]}")

    def _state_objects(self):
        return [self]                       # everything a forward leaves is in self._last_tape

    # -- building and dtype -----------------------------------------------------------------
    def build(self, input_shape=None, dtype=None):
        """Functional: weights already exist; ``dtype`` casts them (float32 <-> float64).
        Subclassed: layers build on the first call; build(shape) runs one on zeros."""
        if self._graph:
            if dtype is not None and np.dtype(dtype) != self.dtype:
                self._retype(np.dtype(dtype))
            if dtype is not None:
                self._dtype_fixed = True
            return
        if input_shape is not None and not self.built:
            x = np.zeros((1,) + tuple(input_shape), dtype=dtype or np.float32)
            self(x)

    def _ensure_built(self, input_shape, dtype):
        if not self.built:
            self.dtype = self.dtype or np.dtype(dtype)
            self.built = True
            if type(self).build is not Model.build:      # a subclass's own build(input_shape)
                self.build(input_shape)

    def _all_layers(self):
        out, seen = [], set()
        for layer in self.layers:
            for sub in [layer] + (layer._all_layers() if getattr(layer, "_is_model", False) else layer._state_objects()):
                if id(sub) not in seen:
                    seen.add(id(sub))
                    out.append(sub)
        return out

    def _retype(self, dtype):
        """Cast every weight to ``dtype`` (a model built from Input before it saw data)."""
        for p in self.weights:
            dev = "cuda" if _device.is_device_array(p.value) else "cpu"
            p.value = _device.to_device(_device.to_numpy(p.value).astype(dtype), dev)
        for layer in self._all_layers():
            if layer.dtype is not None:
                layer.dtype = np.dtype(dtype)
        for t in self._inputs if self._graph else []:
            t.dtype = np.dtype(dtype)
            t.node.layer.dtype = np.dtype(dtype)
        self.dtype = np.dtype(dtype)

    def compute_output_shape(self, input_shape):
        if self._graph:
            shapes = [tuple(t.shape[1:]) for t in self._outputs]
            return shapes[0] if len(shapes) == 1 else shapes
        zeros = (lambda s: np.zeros((1,) + tuple(s), self.dtype or np.float32))
        x = [zeros(s) for s in input_shape] if isinstance(input_shape, list) else zeros(input_shape)
        with _tape.recording(None):
            out = self(x)
        shapes = [tuple(a.shape[1:]) for a in _tape.flatten(out)]
        return shapes[0] if len(shapes) == 1 else shapes

    # -- forward and backward ---------------------------------------------------------------
    def _dev(self):
        return self.device or _device.get_device()

    def _prepare_inputs(self, inputs):
        """The batch as arrays of this model's dtype on its device (the only upload per step)."""
        if self._graph:
            arrays = self._match_inputs(inputs)
            first = arrays[0]
            if not self._dtype_fixed and not _device.is_device_array(first) and \
                    np.asarray(first).dtype == np.float64 and self.dtype != np.float64 and \
                    all(t.node.layer.user_dtype is None for t in self._inputs):
                self._retype(np.dtype(np.float64))   # the first data decides, as the API says
            return [self._prepare_one(a, t) for a, t in zip(arrays, self._inputs, strict=True)]
        arrays = _tape.flatten(inputs)
        if self.dtype is None and arrays:
            self.dtype = float_dtype(np.asarray(arrays[0]) if not _device.is_device_array(arrays[0]) else arrays[0])
        return [self._prepare_one(a, None) for a in arrays]

    def _match_inputs(self, inputs):
        if isinstance(inputs, dict):
            keys = self._input_keys or [t.node.layer.name for t in self._inputs]
            missing = [k for k in keys if k not in inputs]
            if missing:
                raise ValueError(f"{self.name}: missing inputs {missing}; received keys {sorted(inputs)}")
            return [inputs[k] for k in keys]
        arrays = list(inputs) if isinstance(inputs, (list, tuple)) and len(self._inputs) > 1 else [inputs]
        if len(arrays) != len(self._inputs):
            raise ValueError(f"{self.name} takes {len(self._inputs)} inputs; received {len(arrays)}")
        return arrays

    def _prepare_one(self, x, tensor):
        if _device.is_device_array(x):
            return x
        x = np.asarray(x)
        if tensor is not None:
            expected = tensor.shape[1:]
            if x.ndim < 1 or tuple(x.shape[1:]) != tuple(expected):
                hint = f". {_shapes.nchw_hint(x.shape[1:])}" if _shapes.looks_channels_last(x.shape[1:]) else ""
                raise ValueError(f"{self.name}: expected input of shape (None, {', '.join(map(str, expected))}); "
                                 f"received {x.shape}{hint}")
            dtype = tensor.node.layer.user_dtype or self.dtype
        else:
            dtype = self.dtype if x.dtype.kind == "f" else x.dtype
        return _device.to_device(np.ascontiguousarray(x, dtype=dtype), self._dev())

    def _pack(self, arrays, keys, single):
        if keys is not None:
            return dict(zip(keys, arrays, strict=True))
        return arrays[0] if single else list(arrays)

    def _execute(self, inputs, training, fused=False):
        """One forward on a fresh tape; returns the outputs as the model's structure.
        ``fused``: run compile's fusion plan (the outputs are then logits where it fused)."""
        self._last_tape = None                  # free the previous step's caches first
        xs = self._prepare_inputs(inputs)       # (a Sequential without an input shape builds here)
        plan = {**getattr(self, "_relu_plan", {}), **(self._graph_plan() if fused else {})}
        tape = _tape.Tape()
        with _device.using(self._dev()), _tape.recording(tape):
            if self._graph:
                outs = _graph.run(self._nodes, self._inputs, xs, self._outputs, training, plan)
                out = self._pack(outs, self._output_keys, self._single_output)
            else:
                out = self._call_subclass(xs, inputs, training)
                outs = _tape.flatten(out)
        self._dtype_fixed = True
        self._last_tape = (tape, xs, outs)
        return out

    def _call_subclass(self, xs, inputs, training):
        if type(self).call is Model.call:
            raise NotImplementedError(f"{type(self).__name__} must define call(self, inputs, training=False), "
                                      "or be built as Model(inputs, outputs)")
        if isinstance(inputs, dict):
            structured = dict(zip(inputs, xs, strict=True))
        else:
            structured = list(xs) if isinstance(inputs, (list, tuple)) else xs[0]
        return Layer._run(self, structured, training, {})

    def _run(self, inputs, training, kwargs):
        return self._execute(inputs, training)

    def call(self, inputs, training=False):
        raise NotImplementedError(f"{type(self).__name__} must define call(self, inputs, training=False)")

    def forward(self, x, training=False):
        """The model's output for the batch ``x`` (also ``model(x, training=...)``)."""
        return self(x, training=training)

    def backward(self, dout):
        """dLoss/dInput from dLoss/dOutput of the last forward; accumulates every weight's .grad."""
        return self._backward(dout, _tape.input_grad_needed(self))

    def _backward(self, dout, input_grads):
        """backward; with ``input_grads`` False (a training step: the inputs are data) only the
        weights' gradients are made, layers may skip their dx, and None is returned."""
        if self._last_tape is None:
            raise RuntimeError(f"{self.name}: backward called before a forward pass")
        tape, xs, outs = self._last_tape
        douts = list(dout.values()) if isinstance(dout, dict) else \
            list(dout) if isinstance(dout, (list, tuple)) and len(outs) > 1 else [dout]
        if len(douts) != len(outs):
            raise ValueError(f"{self.name} has {len(outs)} outputs; backward received {len(douts)} gradients")
        seeds = {}
        for o, d in zip(outs, douts, strict=True):
            if d is not None:
                seeds[id(o)] = seeds[id(o)] + d if id(o) in seeds else d
        with _device.using(self._dev()):
            grads = tape.replay(seeds, wanted=None if input_grads else ())
        if not input_grads:
            return None
        dxs = [grads.get(id(x)) for x in xs]
        dxs = [_tape.zeros_like(x) if d is None else d for x, d in zip(xs, dxs, strict=True)]
        return dxs[0] if len(dxs) == 1 else dxs

    def zero_grad(self):
        for p in self.weights:
            p.zero_grad()

    def to(self, device):
        """Move every weight (and the optimizer's state) to ``device``."""
        _device.check_available(device)
        for p in self.weights:
            p.value, p.grad = _device.to_device(p.value, device), None
        if self.optimizer is not None:
            for state in self.optimizer._state.values():
                for k in state:
                    state[k] = _device.to_device(state[k], device)
        self.device = device
        return self

    # -- weights ----------------------------------------------------------------------------
    @property
    def weights(self):
        seen, out = set(), []
        for layer in self.layers:
            for p in layer.weights:
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
        return out

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        ids = {id(p) for layer in self.layers for p in layer.trainable_weights}
        return [p for p in self.weights if id(p) in ids]

    @property
    def non_trainable_weights(self):
        ids = {id(p) for p in self.trainable_weights}
        return [p for p in self.weights if id(p) not in ids]

    def count_params(self) -> int:
        self._require_built("count_params")
        return sum(p.size for p in self.weights)

    def get_weights(self):
        return [_device.to_numpy(p.value).copy() for p in self.weights]

    def set_weights(self, arrays):
        """Set every weight; every array is checked first, so nothing changes unless all fit."""
        self._require_built("set_weights")
        params = self.weights
        hosts = check_weight_arrays(params, arrays, self.name)
        for p, host in zip(params, hosts, strict=True):
            p.value = _device.to_device(host, "cuda" if _device.is_device_array(p.value) else "cpu")

    def save_weights(self, filepath):
        """Write every weight to an .npz file, atomically (tinydl/saving.py)."""
        _saving.save_weights(self, filepath)

    def load_weights(self, filepath):
        """Load weights saved by save_weights (or a .keras file's); nothing changes unless
        every array fits (tinydl/saving.py)."""
        _saving.load_weights(self, filepath)

    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"{what} needs a built model: start it with td.Input(shape) / "
                             "layers.Input(shape), or call it on data first")

    def save(self, filepath):
        """One .keras file: architecture, weights and optimizer state (tinydl.saving);
        td.models.load_model(filepath) gives the model back, compiled as it was."""
        _saving.save_model(self, filepath)

    # -- inspection -------------------------------------------------------------------------
    def profile(self, x, y=None, **kwargs):
        """Per-layer forward and backward times, GFLOP/s and kernel versions (tinydl/profile.py)."""
        from tinydl.profile import profile
        return profile(self, x, y, **kwargs)

    def summary(self, print_fn=print):
        """Keras's table: Layer (type) | Output Shape | Param # (| Connected to), then totals."""
        print_fn(_summary.text(self))

    def get_config(self):
        if not self._graph:
            raise NotImplementedError(f"{type(self).__name__} is a subclassed model: give it "
                                      "get_config / from_config to make it serializable")
        return _graph.get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        inputs, outputs = _graph.from_config(config, custom_objects)
        return cls(inputs=inputs, outputs=outputs, name=config.get("name"))

    def __repr__(self):
        kind = "functional" if self._graph else "subclassed"
        state = f"{len(self.layers)} layers" + ("" if self.built else ", not built")
        return f"<{type(self).__name__} name={self.name!r}, {kind}, {state}>"
