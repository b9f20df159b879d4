"""Losses, Keras names and argument order: ``loss(y_true, y_pred) -> float``, then
``loss.backward() -> dLoss/dy_pred``. Every loss is the mean over the batch.

A final softmax followed by (sparse) categorical cross-entropy, or a final sigmoid followed by
binary cross-entropy, is fused by ``Sequential.compile`` into the from-logits form: one stable
kernel whose gradient is p - y (or sigmoid(a) - y), finite even at logits of 1e4.
"""
import numpy as np

from tinydl import device as _device
from tinydl import ops


class Loss:
    """Base: subclasses name their op pair in ``_forward``."""
    fused_activation = None  # "softmax" or "sigmoid" when a from-logits form exists

    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)
        self._cache = None
        self._backward = None

    def __call__(self, y_true, y_pred) -> float:
        loss, self._cache, self._backward = self._forward(y_true, y_pred)
        return loss

    def _forward(self, y_true, y_pred):
        raise NotImplementedError

    def backward(self, dloss=1.0):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}: backward called before the loss was computed")
        return self._backward(dloss, self._cache)

    def logits_version(self) -> "Loss":
        """The same loss taking logits (used when compile fuses the final activation)."""
        return type(self)(from_logits=True)

    def get_config(self):
        return {"name": type(self).__name__, "from_logits": self.from_logits}


class SparseCategoricalCrossentropy(Loss):
    """y_true: int class indices (N,); y_pred: probabilities or logits (N, C)."""
    fused_activation = "softmax"

    def _forward(self, y_true, y_pred):
        if self.from_logits:
            loss, cache = ops.softmax_cross_entropy_forward(y_pred, y_true)
            return loss, cache, ops.softmax_cross_entropy_backward
        loss, cache = ops.categorical_cross_entropy_forward(y_pred, y_true)
        return loss, cache, ops.categorical_cross_entropy_backward


class CategoricalCrossentropy(SparseCategoricalCrossentropy):
    """y_true: target probabilities, one-hot or soft (N, C), float or integer (integer one-hot
    arrays such as np.array([[1, 0, 0], [0, 1, 0]]) are taken as floats); y_pred: probabilities
    or logits (N, C). Class indices (N,) are refused: they belong to the sparse loss."""

    @staticmethod
    def check_targets(y_true, classes=None):
        """Raise unless ``y_true`` is one target row per sample: (N, C), C = ``classes`` if given."""
        shape = tuple(np.shape(y_true))
        dtype = np.dtype(y_true.dtype if hasattr(y_true, "dtype") else np.asarray(y_true).dtype)
        if len(shape) != 2:
            what = "integer class indices" if dtype.kind in "iub" else "targets"
            raise ValueError(
                f"categorical_crossentropy needs one target row per sample (N, C): one-hot or "
                f"probabilities. Received {what} of shape {shape}. For class indices use "
                f"loss='sparse_categorical_crossentropy' (or one-hot encode them: np.eye(C)[y])")
        if classes is not None and shape[1] != classes:
            raise ValueError(f"categorical_crossentropy: targets must have {classes} columns, one per "
                             f"class of the model's output; received shape {shape}")

    def _forward(self, y_true, y_pred):
        self.check_targets(y_true, tuple(y_pred.shape)[-1] if len(y_pred.shape) == 2 else None)
        if not _device.is_device_array(y_true) and np.asarray(y_true).dtype.kind in "iub":
            y_true = np.asarray(y_true, dtype=np.dtype(y_pred.dtype))     # integer one-hot rows
        return super()._forward(y_true, y_pred)


class BinaryCrossentropy(Loss):
    """y_true: targets in [0, 1]; y_pred: probabilities or logits, same shape."""
    fused_activation = "sigmoid"

    def _forward(self, y_true, y_pred):
        if self.from_logits:
            loss, cache = ops.sigmoid_binary_cross_entropy_forward(y_pred, y_true)
            return loss, cache, ops.sigmoid_binary_cross_entropy_backward
        loss, cache = ops.binary_cross_entropy_forward(y_pred, y_true)
        return loss, cache, ops.binary_cross_entropy_backward


class MeanSquaredError(Loss):
    def __init__(self):
        super().__init__(from_logits=False)

    def _forward(self, y_true, y_pred):
        loss, cache = ops.mse_forward(y_pred, y_true)
        return loss, cache, ops.mse_backward

    def logits_version(self):
        return MeanSquaredError()


ALIASES = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
}


def get(loss) -> Loss:
    """A Loss from an instance or a Keras string alias."""
    if isinstance(loss, Loss):
        return loss
    if loss in ALIASES:
        return ALIASES[loss]()
    raise ValueError(
        f"unknown loss; expected a tinydl.losses.Loss or one of {sorted(ALIASES)}; received {loss!r}"
    )
