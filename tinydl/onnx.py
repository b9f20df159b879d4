"""Export a tinydl model to ONNX (extra ``tinydl[onnx]``: the ``onnx`` package).

    td.onnx.export(model, "net.onnx")     # then e.g. onnxruntime.InferenceSession("net.onnx")

The graph is what ``model.predict`` computes (inference: dropout off, batch normalization with
its moving statistics), one input "input" of shape (N, *input_shape) with a free batch axis N,
one output "output", in the model's float dtype. Each layer becomes the ONNX ops below (opset 17):

    Dense                 MatMul + Add              (x @ kernel + bias on the last axis)
    Conv2D                Conv, pads (top, left, bottom, right) from Keras's 'same'/'valid'
    BatchNormalization    BatchNormalization        (gamma, beta, moving mean, moving variance)
    LayerNormalization    LayerNormalization, axis -1
    MaxPooling2D          MaxPool;  AveragePooling2D  AveragePool (padding not counted, as Keras)
    GlobalAveragePooling2D  GlobalAveragePool + Flatten
    Flatten               Flatten(axis=1);  Dropout  nothing
    ReLU, LeakyReLU, Sigmoid, Tanh, Softmax   the ONNX op of that name; GELU  0.5 x (1 + erf(x/sqrt 2))
    Residual              each path, then Add
"""
import math

import numpy as np

from tinydl import layers as L
from tinydl.layers.conv import explicit_padding

__all__ = ["export"]
OPSET = 17


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("td.onnx.export needs the onnx package: pip install 'tinydl[onnx]'") from None
    return onnx


class _Graph:
    """The nodes and initializers being built, with fresh names."""

    def __init__(self, dtype):
        self.onnx = _onnx()
        self.dtype = np.dtype(dtype)
        self.nodes, self.inits, self._n = [], [], 0

    def name(self, stem):
        self._n += 1
        return f"{stem}_{self._n}"

    def const(self, array, stem="w"):
        name = self.name(stem)
        a = np.asarray(array)
        a = a.astype(self.dtype) if a.dtype.kind == "f" else a
        self.inits.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(a), name))
        return name

    def op(self, kind, inputs, **attrs):
        out = self.name(kind.lower())
        self.nodes.append(self.onnx.helper.make_node(kind, list(inputs), [out], **attrs))
        return out


def _activation(g, act, x):
    if act is None:
        return x
    if isinstance(act, L.LeakyReLU):
        return g.op("LeakyRelu", [x], alpha=float(act.negative_slope))
    if isinstance(act, L.Softmax):
        return g.op("Softmax", [x], axis=-1)
    if isinstance(act, L.GELU):
        erf = g.op("Erf", [g.op("Div", [x, g.const(math.sqrt(2.0), "sqrt2")])])
        one_plus = g.op("Add", [erf, g.const(1.0, "one")])
        return g.op("Mul", [g.op("Mul", [x, one_plus]), g.const(0.5, "half")])
    simple = {L.ReLU: "Relu", L.Sigmoid: "Sigmoid", L.Tanh: "Tanh"}
    if type(act) in simple:
        return g.op(simple[type(act)], [x])
    raise NotImplementedError(f"td.onnx.export: no ONNX op for the activation {type(act).__name__}")


def _pads(layer, shape, kernel):
    top, bottom, left, right = explicit_padding(layer.padding, tuple(shape[1:3]), kernel, layer.strides)
    return [top, left, bottom, right]


def _layer(g, layer, x, shape):
    """Add ``layer``'s ops fed ``x`` of per-sample ``shape``; returns the output's name."""
    w = layer.get_weights()
    if isinstance(layer, L.Dense):
        y = g.op("MatMul", [x, g.const(w[0], "kernel")])
        y = g.op("Add", [y, g.const(w[1], "bias")]) if layer.use_bias else y
        return _activation(g, layer.activation, y)
    if isinstance(layer, L.Conv2D):
        ins = [x, g.const(w[0], "kernel")] + ([g.const(w[1], "bias")] if layer.use_bias else [])
        y = g.op("Conv", ins, kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
                 pads=_pads(layer, shape, layer.kernel_size))
        return _activation(g, layer.activation, y)
    if isinstance(layer, L.BatchNormalization):
        return g.op("BatchNormalization", [x] + [g.const(a, "bn") for a in w], epsilon=float(layer.epsilon))
    if isinstance(layer, L.LayerNormalization):
        return g.op("LayerNormalization", [x, g.const(w[0], "gamma"), g.const(w[1], "beta")], axis=-1,
                    epsilon=float(layer.epsilon))
    if isinstance(layer, (L.MaxPooling2D, L.AveragePooling2D)):
        attrs = dict(kernel_shape=list(layer.pool_size), strides=list(layer.strides),
                     pads=_pads(layer, shape, layer.pool_size))
        if isinstance(layer, L.AveragePooling2D):
            return g.op("AveragePool", [x], count_include_pad=0, **attrs)
        return g.op("MaxPool", [x], **attrs)
    if isinstance(layer, L.GlobalAveragePooling2D):
        return g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    if isinstance(layer, L.Flatten):
        return g.op("Flatten", [x], axis=1)
    if isinstance(layer, L.Dropout):
        return x
    if isinstance(layer, L.Residual):
        block = _chain(g, layer.block, x, shape)
        short = _chain(g, layer.shortcut, x, shape)
        return g.op("Add", [block, short])
    if isinstance(layer, (L.ReLU, L.LeakyReLU, L.Sigmoid, L.Tanh, L.GELU, L.Softmax)):
        return _activation(g, layer, x)
    raise NotImplementedError(f"td.onnx.export: no ONNX ops for {layer.name} ({type(layer).__name__}) yet")


def _chain(g, items, x, shape):
    for layer in items:
        x = _layer(g, layer, x, shape)
        shape = tuple(layer.compute_output_shape(tuple(shape)))
    return x


def export(model, path, opset=OPSET):
    """Write ``model`` (a chain of layers, built) as an ONNX file at ``path``; returns the path.
    The file is checked with ``onnx.checker`` before it is written (atomically)."""
    onnx = _onnx()
    from tinydl._io import atomic_open

    if model.input_shape is None:
        raise ValueError("td.onnx.export: the model needs a known input shape; start it with layers.Input(shape)")
    if not all(layer.built for layer in model.layers):
        model.build()
    weights = [a for layer in model.layers for a in layer.get_weights()]
    dtype = weights[0].dtype if weights else np.dtype(np.float32)
    g = _Graph(dtype)
    shape = tuple(model.input_shape)
    out = _chain(g, model.layers, "input", shape)
    for layer in model.layers:
        shape = tuple(layer.compute_output_shape(shape))
    g.nodes.append(onnx.helper.make_node("Identity", [out], ["output"]))
    elem = onnx.helper.np_dtype_to_tensor_dtype(g.dtype)
    graph = onnx.helper.make_graph(
        g.nodes, getattr(model, "name", None) or "tinydl",
        [onnx.helper.make_tensor_value_info("input", elem, ["N", *model.input_shape])],
        [onnx.helper.make_tensor_value_info("output", elem, ["N", *shape])], initializer=g.inits)
    proto = onnx.helper.make_model(graph, producer_name="tinydl",
                                   opset_imports=[onnx.helper.make_opsetid("", int(opset))])
    proto.ir_version = min(proto.ir_version, 9)        # readable by onnxruntime releases of 2024 on
    onnx.checker.check_model(proto)
    with atomic_open(path, "wb", suffix=".onnx") as f:
        f.write(proto.SerializeToString())
    return path
