"""Merge layers: a list of tensors in, one tensor out (Keras's Add, Multiply, Average,
Concatenate and their lowercase functional forms).

    x = layers.Add()([a, b])                 same as layers.add([a, b])
    x = layers.Concatenate(axis=1)([a, b])   channels of NCHW images; axis=-1 for features

All arithmetic is in tinydl.ops.merge; backward returns one gradient per input, in order.
"""
from tinydl.layers.base import Layer
from tinydl.ops import merge as _merge


class _Merge(Layer):
    op = None   # the tinydl.ops.merge prefix

    def __init__(self, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self._cache = None

    def _check_shapes(self, shapes):
        if not isinstance(shapes, list) or len(shapes) < 2:
            raise ValueError(f"{self.name}: a merge layer needs a list of at least 2 inputs; "
                             f"received {shapes!r}")
        for i, s in enumerate(shapes[1:], 1):
            if tuple(s) != tuple(shapes[0]):
                raise ValueError(f"{self.name}: inputs must have one shape; input 0 has "
                                 f"{(None, *shapes[0])}, input {i} has {(None, *s)}")

    def build(self, input_shape):
        self._check_shapes(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_shapes(input_shape)
        return tuple(input_shape[0])

    def call(self, inputs, training=False):
        out, self._cache = getattr(_merge, f"{self.op}_forward")(list(inputs))
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward called before a forward pass")
        return getattr(_merge, f"{self.op}_backward")(dout, self._cache)


class Add(_Merge):
    """out = x_0 + x_1 + ...; every input gets dout."""
    op = "add"


class Multiply(_Merge):
    """out = x_0 * x_1 * ... elementwise; input i gets dout times the other inputs."""
    op = "multiply"


class Average(_Merge):
    """out = (x_0 + ... + x_{n-1}) / n; every input gets dout / n."""
    op = "average"


class Concatenate(_Merge):
    """The inputs side by side on ``axis`` (counted with the batch axis, as in Keras:
    axis=1 joins the channels of NCHW images; -1 the last axis)."""

    def __init__(self, axis=-1, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        from tinydl._validate import is_int
        if not is_int(axis) or int(axis) == 0:
            raise ValueError(f"Concatenate: axis must be a non-zero int (axis 0 is the batch). "
                             f"Received: axis={axis!r}")
        self.axis = int(axis)

    def _axis(self, rank):
        ax = self.axis + rank + 1 if self.axis < 0 else self.axis     # rank: without the batch axis
        if not 1 <= ax <= rank:
            raise ValueError(f"{self.name}: axis={self.axis} is out of range for inputs of "
                             f"{rank + 1} axes (with the batch axis)")
        return ax

    def _check_shapes(self, shapes):
        if not isinstance(shapes, list) or len(shapes) < 2:
            raise ValueError(f"{self.name}: Concatenate needs a list of at least 2 inputs; received {shapes!r}")
        rank = len(shapes[0])
        ax = self._axis(rank) - 1
        for i, s in enumerate(shapes[1:], 1):
            if len(s) != rank or tuple(s[:ax]) + tuple(s[ax + 1:]) != tuple(shapes[0][:ax]) + tuple(shapes[0][ax + 1:]):
                raise ValueError(f"{self.name}: inputs must match on every axis but axis {self.axis}; "
                                 f"input 0 has {(None, *shapes[0])}, input {i} has {(None, *s)}")
        return ax

    def compute_output_shape(self, input_shape):
        ax = self._check_shapes(input_shape)
        out = list(input_shape[0])
        out[ax] = sum(s[ax] for s in input_shape)
        return tuple(out)

    def call(self, inputs, training=False):
        inputs = list(inputs)
        out, self._cache = _merge.concatenate_forward(inputs, self._axis(len(inputs[0].shape) - 1))
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward called before a forward pass")
        return _merge.concatenate_backward(dout, self._cache)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def add(inputs, **kwargs):
    """layers.Add()(inputs)."""
    return Add(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)
