"""Symbolic tensors: what ``td.Input`` returns and what a layer called on one returns.

A KerasTensor holds no data: its shape (batch axis None), its dtype and the Node that made it.
Calling a layer on KerasTensors builds the layer from their shapes and records a Node

    Node(layer, args, kwargs) -> outputs      args: the call's positional arguments, each a
                                              KerasTensor or a list of them

so that ``td.Model(inputs, outputs)`` can walk the graph back from its outputs.
"""
import numpy as np


class KerasTensor:
    def __init__(self, shape, dtype, node=None, index=0, name=None):
        self.shape = (None,) + tuple(int(d) for d in shape)   # (None, *sample shape)
        self.dtype = np.dtype(dtype)
        self.node, self.index, self.name = node, index, name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class Node:
    """One symbolic call of ``layer``: its inputs (KerasTensors), its outputs, its arguments."""

    def __init__(self, layer, args, kwargs):
        self.layer, self.args, self.kwargs = layer, tuple(args), dict(kwargs)
        self.inputs = symbolic_in(self.args)
        self.outputs: list[KerasTensor] = []

    @property
    def parents(self):
        return [t.node for t in self.inputs]

    def __repr__(self):
        return f"<Node {self.layer.name}: {len(self.inputs)} in, {len(self.outputs)} out>"


def symbolic_in(x):
    """The KerasTensors in ``x`` (a KerasTensor, or nested lists / tuples / dicts of them)."""
    if isinstance(x, KerasTensor):
        return [x]
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in symbolic_in(v)]
    return []


def map_structure(fn, x):
    """``x`` with every KerasTensor (or array) leaf replaced by fn(leaf), structure kept."""
    if isinstance(x, dict):
        return {k: map_structure(fn, v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(map_structure(fn, v) for v in x)
    return fn(x) if x is not None and hasattr(x, "shape") else x
