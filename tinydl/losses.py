"""Losses, Keras names and argument order: ``loss(y_true, y_pred, sample_weight=None) -> float``,
then ``loss.backward() -> dLoss/dy_pred``. Every loss is the mean over the batch.

Targets as Keras takes them:
    sparse labels     (N,) or (N, 1), int or integral float (2.0 is class 2; 2.5 is refused)
    binary, regression  (N,) targets against an (N, 1) output (and (N, 1) against (N,))
Sample weights, as Keras: ``sum_n w[n] * loss[n] / N``, where loss[n] is sample n's loss (its mean
over the non-batch axes); the backward is the unweighted gradient with row n times w[n].

A final softmax followed by (sparse) categorical cross-entropy, or a final sigmoid followed by
binary cross-entropy, is fused by ``Sequential.compile`` into the from-logits form: one stable
kernel whose gradient is p - y (or sigmoid(a) - y), finite even at logits of 1e4.
"""
import numpy as np

from tinydl import _config, ops
from tinydl import device as _device
from tinydl import tape as _tape
from tinydl._validate import finite_float
from tinydl.ops import losses as _loss_ops

EPSILON = 1e-7   # Keras's clip on probabilities


# ---- targets and weights as Keras takes them ----------------------------------------------------
def sparse_labels(y, n=None):
    """Class indices as int64 (N,): from (N,) or (N, 1), ints or integral floats."""
    if _device.is_device_array(y):
        y = _device.to_numpy(y)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or (n is not None and y.shape[0] != n):
        want = f"({n},)" if n is not None else "(N,)"
        raise ValueError(f"sparse labels must have shape {want} or {want[:-2]}, 1); received shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.floor(y)):
            bad = y[~np.isfinite(y) | (y != np.floor(y))][0]
            raise ValueError(f"sparse labels must be integer class indices; received a float label {float(bad)!r}")
        return y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise TypeError(f"sparse labels must be integers (or integral floats); received dtype {y.dtype}")
    return y.astype(np.int64, copy=False)


def match_target_shape(y_true, y_pred):
    """Keras's squeeze/expand rule: (N,) targets for an (N, 1) output and (N, 1) for (N,)."""
    if not hasattr(y_true, "shape"):
        y_true = np.asarray(y_true)
    ts, ps = tuple(y_true.shape), tuple(y_pred.shape)
    if ts == ps:
        return y_true
    if len(ts) + 1 == len(ps) and ps[-1] == 1 and ts == ps[:-1]:
        return y_true.reshape(ps)
    if len(ts) == len(ps) + 1 and ts[-1] == 1 and ts[:-1] == ps:
        return y_true.reshape(ps)
    raise ValueError(f"y_true must have the shape of y_pred {ps} (or {ps} without/with a trailing 1); "
                     f"received y_true of shape {ts}")


def sample_weights(sample_weight, n):
    """Per-sample weights as a float64 host array (N,); (N, 1) is accepted."""
    w = np.asarray(_device.to_numpy(sample_weight))
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.dtype.kind not in "biuf" or w.shape != (n,):
        raise ValueError(f"sample_weight must be numbers of shape ({n},), one per sample; "
                         f"received dtype {w.dtype}, shape {w.shape}")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and >= 0; received a negative, NaN or inf weight")
    return w


def _rows(terms):
    # per-element terms (N, ...) -> per-sample means (N,)
    return terms.reshape(terms.shape[0], -1).mean(axis=1)


# ---- the losses ----------------------------------------------------------------------------------
class Loss:
    """Base: subclasses name their op pair in ``_forward`` and their per-sample loss, in NumPy
    float64, in ``per_sample`` (used for the weighted value)."""
    fused_activation = None  # "softmax" or "sigmoid" when a from-logits form exists

    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)
        self._cache = None
        self._backward = None
        self._weights = None

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        y_true = self._targets(y_true, y_pred)
        loss, self._cache, self._backward = self._forward(y_true, y_pred)
        self._weights = None
        if sample_weight is not None:
            n = int(y_pred.shape[0])
            self._weights = sample_weights(sample_weight, n)
            # the weighted value on the host: sum_n w[n] loss[n] / N
            per = self.per_sample(_host(y_true), _host(y_pred).astype(np.float64))
            loss = float(np.dot(self._weights, per) / n)
        tape = _tape.active()
        if hasattr(tape, "record_loss"):   # a GradientTape records the loss call (tinydl/tape.py)
            tape.record_loss(self, y_pred, loss)
        return loss

    def _targets(self, y_true, y_pred):
        return match_target_shape(y_true, y_pred)

    def _forward(self, y_true, y_pred):
        raise NotImplementedError

    def per_sample(self, y_true, y_pred):
        """Each sample's loss (N,) in float64: the same formulas as the kernels."""
        raise NotImplementedError

    def backward(self, dloss=1.0):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}: backward called before the loss was computed")
        d = self._backward(dloss, self._cache)
        if self._weights is not None:
            d = _loss_ops.scale_rows(d, self._weights)
        return d

    def logits_version(self) -> "Loss":
        """The same loss taking logits (used when compile fuses the final activation)."""
        return type(self)(from_logits=True)

    def get_config(self):
        """The constructor's arguments (read from the attributes of the same names)."""
        return _config.init_config(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _host(a):
    return np.asarray(_device.to_numpy(a))


def _log_softmax(a):
    z = a - a.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _class_terms(y, logp):
    # -log p[label] for int labels (N,), -sum_c y_c log p_c for targets (N, C)
    if y.ndim == 1:
        return -logp[np.arange(len(y)), y]
    return -(y * logp).sum(axis=1)


class SparseCategoricalCrossentropy(Loss):
    """y_true: class indices (N,) or (N, 1), int or integral float; y_pred: probabilities or
    logits (N, C)."""
    fused_activation = "softmax"

    def _targets(self, y_true, y_pred):
        return sparse_labels(y_true, int(y_pred.shape[0]))

    def _forward(self, y_true, y_pred):
        if self.from_logits:
            loss, cache = ops.softmax_cross_entropy_forward(y_pred, y_true)
            return loss, cache, ops.softmax_cross_entropy_backward
        loss, cache = ops.categorical_cross_entropy_forward(y_pred, y_true)
        return loss, cache, ops.categorical_cross_entropy_backward

    def per_sample(self, y_true, y_pred):
        if self.from_logits:
            return _class_terms(y_true, _log_softmax(y_pred))
        q = np.clip(y_pred / y_pred.sum(axis=1, keepdims=True), EPSILON, 1 - EPSILON)
        return _class_terms(y_true, np.log(q))


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

    def _targets(self, y_true, y_pred):
        self.check_targets(y_true, tuple(y_pred.shape)[-1] if len(y_pred.shape) == 2 else None)
        if not _device.is_device_array(y_true) and np.asarray(y_true).dtype.kind in "iub":
            y_true = np.asarray(y_true, dtype=np.dtype(y_pred.dtype))     # integer one-hot rows
        return y_true


class BinaryCrossentropy(Loss):
    """y_true: targets in [0, 1], of y_pred's shape ((N,) for (N, 1) too); y_pred: probabilities
    or logits."""
    fused_activation = "sigmoid"

    def _forward(self, y_true, y_pred):
        if self.from_logits:
            loss, cache = ops.sigmoid_binary_cross_entropy_forward(y_pred, y_true)
            return loss, cache, ops.sigmoid_binary_cross_entropy_backward
        loss, cache = ops.binary_cross_entropy_forward(y_pred, y_true)
        return loss, cache, ops.binary_cross_entropy_backward

    def per_sample(self, y_true, y_pred):
        y = y_true.astype(np.float64)
        if self.from_logits:
            a = y_pred
            return _rows(np.maximum(a, 0) - a * y + np.log1p(np.exp(-np.abs(a))))
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        return _rows(-(y * np.log(p) + (1 - y) * np.log(1 - p)))


class MeanSquaredError(Loss):
    def __init__(self):
        super().__init__(from_logits=False)

    def _forward(self, y_true, y_pred):
        loss, cache = ops.mse_forward(y_pred, y_true)
        return loss, cache, ops.mse_backward

    def per_sample(self, y_true, y_pred):
        return _rows((y_pred - y_true) ** 2)

    def logits_version(self):
        return type(self)()


class MeanAbsoluteError(MeanSquaredError):
    """Mean of |y_pred - y_true| (PyTorch's L1Loss)."""

    def _forward(self, y_true, y_pred):
        loss, cache = _loss_ops.mae_forward(y_pred, y_true)
        return loss, cache, _loss_ops.mae_backward

    def per_sample(self, y_true, y_pred):
        return _rows(np.abs(y_pred - y_true))


class Huber(Loss):
    """Mean of 0.5 d^2 where |d| <= delta, else delta (|d| - delta / 2); d = y_pred - y_true
    (PyTorch's HuberLoss with the same delta)."""

    def __init__(self, delta=1.0):
        super().__init__(from_logits=False)
        self.delta = finite_float(delta, "delta", low=0.0, low_open=True)

    def _forward(self, y_true, y_pred):
        loss, cache = _loss_ops.huber_forward(y_pred, y_true, self.delta)
        return loss, cache, _loss_ops.huber_backward

    def per_sample(self, y_true, y_pred):
        a = np.abs(y_pred - y_true)
        return _rows(np.where(a <= self.delta, 0.5 * a * a, self.delta * (a - 0.5 * self.delta)))

    def logits_version(self):
        return Huber(self.delta)


ALIASES = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "huber": Huber,
    "huber_loss": Huber,
}
# Keras also accepts the class names: "MeanSquaredError", "Huber", ...
ALIASES.update({cls.__name__: cls for cls in set(ALIASES.values())})


def get(loss) -> Loss:
    """A Loss from an instance or a Keras string alias."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss()
    if isinstance(loss, str) and loss in ALIASES:
        return ALIASES[loss]()
    if callable(loss):
        raise TypeError(
            f"loss must be a tinydl.losses.Loss or one of its string names; received the callable "
            f"{getattr(loss, '__name__', loss)!r}. tinydl has no tensor autograd: a loss carries its "
            "own backward, so a plain function cannot be trained on. Subclass tinydl.losses.Loss "
            "and give it _forward (returning loss, cache, backward) and per_sample"
        )
    names = sorted(k for k in ALIASES if k.islower())
    raise ValueError(f"unknown loss; expected a tinydl.losses.Loss or one of {names}; received {loss!r}")
