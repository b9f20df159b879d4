"""Embedding: integer ids -> rows of a learned table."""
import numpy as np

from tinydl import ops
from tinydl._validate import positive_int
from tinydl.layers.base import Layer


def _keras_uniform(shape, dtype, rng):
    # Keras's "uniform" initializer: RandomUniform(minval=-0.05, maxval=0.05)
    return rng.uniform(-0.05, 0.05, size=shape).astype(dtype)


class Embedding(Layer):
    """ids (N, ...) integers in [0, input_dim) -> y (N, ..., output_dim), y[k] = embeddings[ids[k]].

    embeddings (input_dim, output_dim). Ids out of range are refused (ValueError) before any
    kernel runs. The ids get no gradient (backward returns None); the table's gradient is a
    scatter-add, so an id that appears twice in a batch gets both rows of dout. The layer
    computes in ``dtype`` (float32 unless float64 is asked for: the input is integers and
    cannot tell)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", dtype=None,
                 input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.input_dim = positive_int(input_dim, "input_dim", "Embedding")
        self.output_dim = positive_int(output_dim, "output_dim", "Embedding")
        self.embeddings_initializer = embeddings_initializer
        if dtype is not None and np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"Embedding: dtype must be float32 or float64. Received: dtype={dtype!r}")
        self._compute_dtype = np.dtype(dtype or np.float32)
        self.embeddings = None
        self._cache = None

    def __call__(self, x, training=False):
        # the ids are integers and cannot tell the dtype: the one asked for (or set on the layer)
        self._ensure_built(tuple(x.shape[1:]), self.dtype or self._compute_dtype)
        return self.call(x, training=training)

    def build(self, input_shape):
        init = self.embeddings_initializer
        init = _keras_uniform if init == "uniform" else init
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim), init)

    def call(self, x, training=False):
        out, self._cache = ops.embedding_forward(x, self.embeddings.value)
        return out

    def backward(self, dout):
        self.embeddings.accumulate_grad(ops.embedding_backward(dout, self._cache))
        return None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        config = {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                  "dtype": self._compute_dtype.name}
        if isinstance(self.embeddings_initializer, str):     # a callable has no name to store
            config["embeddings_initializer"] = self.embeddings_initializer
        return config
