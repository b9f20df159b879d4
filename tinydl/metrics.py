"""Metrics, computed on the host from a batch's predictions: each a running mean over the
samples seen since ``reset``. ``"accuracy"`` resolves to the variant that fits the loss, as in
Keras."""
import numpy as np

from tinydl.device import to_numpy


class Metric:
    name = "metric"

    def __init__(self, from_logits=False):
        self.from_logits = from_logits
        self.reset()

    def reset(self):
        self._total, self._count = 0.0, 0

    def update(self, y_true, y_pred):
        values = self.per_sample(np.asarray(to_numpy(y_true)), np.asarray(to_numpy(y_pred)))
        self._total += float(np.sum(values))
        self._count += values.size

    def result(self) -> float:
        return self._total / self._count if self._count else 0.0

    def per_sample(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        name = config.pop("name", None)
        metric = cls(**config)
        if name is not None:
            metric.name = name
        return metric


class SparseCategoricalAccuracy(Metric):
    name = "sparse_categorical_accuracy"

    def per_sample(self, y_true, y_pred):
        return (np.argmax(y_pred, axis=-1) == y_true.reshape(-1)).astype(np.float64)


class CategoricalAccuracy(Metric):
    name = "categorical_accuracy"

    def per_sample(self, y_true, y_pred):
        return (np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)).astype(np.float64)


class BinaryAccuracy(Metric):
    """Threshold 0.5 on probabilities (0 on logits)."""
    name = "binary_accuracy"

    def per_sample(self, y_true, y_pred):
        threshold = 0.0 if self.from_logits else 0.5
        return ((y_pred > threshold) == (y_true > 0.5)).astype(np.float64).reshape(-1)


class MeanAbsoluteError(Metric):
    name = "mae"

    def per_sample(self, y_true, y_pred):
        return np.abs(y_pred - y_true).reshape(-1)


class MeanSquaredError(Metric):
    name = "mse"

    def per_sample(self, y_true, y_pred):
        return ((y_pred - y_true) ** 2).reshape(-1)


_BY_NAME = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
}


def get(metric, loss, from_logits=False) -> Metric:
    """A Metric from a name; "accuracy"/"acc" picks the variant for ``loss``, reported as
    "accuracy" like Keras."""
    from tinydl import losses

    if isinstance(metric, Metric):
        return metric
    if metric in ("accuracy", "acc"):
        if isinstance(loss, losses.BinaryCrossentropy):
            cls = BinaryAccuracy
        elif isinstance(loss, losses.CategoricalCrossentropy):
            cls = CategoricalAccuracy
        else:
            cls = SparseCategoricalAccuracy
        m = cls(from_logits=from_logits)
        m.name = "accuracy"
        return m
    if metric not in _BY_NAME:
        raise ValueError(
            f"unknown metric; expected 'accuracy' or one of {sorted(_BY_NAME)}; received {metric!r}"
        )
    return _BY_NAME[metric](from_logits=from_logits)
