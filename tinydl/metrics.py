"""Metrics, computed on the host from a batch's predictions: each a running (weighted) mean over
the samples seen since ``reset_state``. Keras's interface:

    m = metrics.SparseCategoricalAccuracy(name="acc")
    m.update_state(y_true, y_pred)        # Mean: m.update_state(values)
    m.result(); m.reset_state(); m.name

``"accuracy"`` (or ``"acc"``) resolves to the variant that fits the loss, as in Keras, and keeps
the string it was given as its name: ``metrics=["acc"]`` logs ``"acc"``. The fit loop calls the
short forms ``update`` and ``reset``, which are the same methods.
"""
import numpy as np

from tinydl.device import to_numpy


def _host(a):
    return np.asarray(to_numpy(a))


class Metric:
    name = "metric"

    def __init__(self, name=None, dtype=None, from_logits=False):
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"{type(self).__name__}: name must be a non-empty string. Received: name={name!r}")
            self.name = name
        self.from_logits = bool(from_logits)
        self.reset_state()

    def reset_state(self):
        self._total, self._count = 0.0, 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch: y_true and y_pred as the loss takes them; sample_weight (N,) optional."""
        values = self.per_sample(_host(y_true), _host(y_pred))
        self._add(values, sample_weight)

    def _add(self, values, sample_weight):
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if sample_weight is None:
            self._total += float(np.sum(values))
            self._count += values.size
            return
        w = _host(sample_weight).astype(np.float64).reshape(-1)
        if w.size != values.size:
            raise ValueError(f"{type(self).__name__}: sample_weight must have one weight per value "
                             f"({values.size}); received {w.size}")
        self._total += float(np.dot(w, values))
        self._count += float(np.sum(w))

    def result(self) -> float:
        return self._total / self._count if self._count else 0.0

    # the fit loop's names for the same steps
    def reset(self):
        self.reset_state()

    def update(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)

    def per_sample(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} result={self.result():.4f}>"


class Mean(Metric):
    """The running (weighted) mean of the values given: ``update_state(values, sample_weight=None)``."""
    name = "mean"

    def update_state(self, values, sample_weight=None):
        self._add(_host(values), sample_weight)

    def update(self, values, sample_weight=None):
        self.update_state(values, sample_weight)


class SparseCategoricalAccuracy(Metric):
    """argmax(y_pred) == y_true, with labels (N,) or (N, 1)."""
    name = "sparse_categorical_accuracy"

    def per_sample(self, y_true, y_pred):
        return (np.argmax(y_pred, axis=-1) == y_true.reshape(-1)).astype(np.float64)


class CategoricalAccuracy(Metric):
    """argmax(y_pred) == argmax(y_true), with one-hot (or soft) targets (N, C)."""
    name = "categorical_accuracy"

    def per_sample(self, y_true, y_pred):
        return (np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)).astype(np.float64)


class BinaryAccuracy(Metric):
    """(y_pred > threshold) == (y_true > 0.5), each element. On logits the same decision is
    a > log(t / (1 - t)) (0 for t = 0.5). (N,) targets match an (N, 1) output."""
    name = "binary_accuracy"

    def __init__(self, name=None, dtype=None, threshold=0.5, from_logits=False):
        self.threshold = float(threshold)
        super().__init__(name, dtype, from_logits)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}

    def per_sample(self, y_true, y_pred):
        t = self.threshold
        threshold = (np.log(t / (1 - t)) if 0 < t < 1 else np.inf * (t - 0.5)) if self.from_logits else t
        if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
            y_true = y_true.reshape(y_pred.shape)
        return ((y_pred > threshold) == (y_true > 0.5)).astype(np.float64).reshape(-1)


class MeanAbsoluteError(Metric):
    name = "mae"

    def per_sample(self, y_true, y_pred):
        return np.abs(y_pred - y_true.reshape(y_pred.shape)).reshape(-1)


class MeanSquaredError(Metric):
    name = "mse"

    def per_sample(self, y_true, y_pred):
        return ((y_pred - y_true.reshape(y_pred.shape)) ** 2).reshape(-1)


_BY_NAME = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
}


def _accuracy_for(loss):
    from tinydl import losses

    if isinstance(loss, losses.BinaryCrossentropy):
        return BinaryAccuracy
    if isinstance(loss, losses.CategoricalCrossentropy):
        return CategoricalAccuracy
    return SparseCategoricalAccuracy


def get(metric, loss, from_logits=False) -> Metric:
    """A Metric from an instance or a name; "accuracy"/"acc" picks the variant for ``loss``.
    A name given as a string stays the metric's name (the history key). ``from_logits`` says
    the model's output reaches the metrics as logits (compile fused the final activation)."""
    if isinstance(metric, Metric):
        if from_logits:
            metric.from_logits = True
        return metric
    if metric in ("accuracy", "acc"):
        return _accuracy_for(loss)(name=metric, from_logits=from_logits)
    if metric not in _BY_NAME:
        raise ValueError(
            f"unknown metric; expected 'accuracy', 'acc', a tinydl.metrics.Metric or one of "
            f"{sorted(_BY_NAME)}; received {metric!r}"
        )
    return _BY_NAME[metric](name=metric, from_logits=from_logits)
