"""Losses, each the MEAN over the batch: forward(prediction, target) -> (loss python float, cache);
backward(dloss, cache) -> the gradient with respect to the prediction, times dloss.

Targets are data: float or integer targets of another dtype are cast to the prediction's dtype.
Class labels are integer indices (N,) inside [0, C); float labels are (N, C) target probabilities.
"""
import numpy as np

from tinydl import device as _device
from tinydl.ops import _checks
from tinydl.ops._cache import expect, kernel_section, run_backward, run_forward
from tinydl.ops.elementwise import targets_like

__all__ = [
    "softmax_cross_entropy_forward", "softmax_cross_entropy_backward",
    "sigmoid_binary_cross_entropy_forward", "sigmoid_binary_cross_entropy_backward",
    "binary_cross_entropy_forward", "binary_cross_entropy_backward",
    "categorical_cross_entropy_forward", "categorical_cross_entropy_backward",
    "mse_forward", "mse_backward",
]


def _class_inputs(pred, labels, pred_name):
    # pred (N, C) with N, C >= 1; labels int (N,) inside [0, C), or float (N, C)
    pred = _checks.as_float(pred, pred_name)
    _checks.ndim(pred, pred_name, 2)
    n, c = (int(d) for d in pred.shape)
    if n < 1 or c < 1:
        raise ValueError(f"{pred_name} must have at least one row and one class; received shape {(n, c)}")
    kind = np.dtype(labels.dtype).kind if hasattr(labels, "dtype") else np.asarray(labels).dtype.kind
    if kind == "f":
        labels = targets_like(labels, pred, "labels")
    else:
        labels = _checks.labels(labels, n, c, "labels")
    return pred, labels


def _same_shape_inputs(pred, target, pred_name, target_name):
    pred = _checks.as_float(pred, pred_name)
    if int(np.prod(pred.shape, dtype=np.int64)) < 1:
        raise ValueError(f"{pred_name} must have at least one element; received shape {tuple(pred.shape)}")
    return pred, targets_like(target, pred, target_name)


def _run(op, pred, target, *args):
    loss, cache = run_forward("losses", op, pred, target, *args, shape=pred.shape, dtype=pred.dtype)
    return float(loss), cache


def _back(op, dloss, cache):
    expect(cache, op)
    dloss = _checks.finite_float(dloss, "dloss")
    return run_backward("losses", op, cache, dloss)


def softmax_cross_entropy_forward(logits, labels):
    """Fused softmax + cross-entropy on logits (N, C), stable (log-sum-exp) at any logit size."""
    logits, labels = _class_inputs(logits, labels, "logits")
    return _run("softmax_cross_entropy", logits, labels)


def softmax_cross_entropy_backward(dloss, cache):
    """(softmax(logits) - y) / N * dloss (y the one-hot labels; for soft labels p * sum(y) - y)."""
    return _back("softmax_cross_entropy", dloss, cache)


def sigmoid_binary_cross_entropy_forward(logits, targets):
    """Fused sigmoid + binary cross-entropy, mean over all elements; stable at any logit size."""
    logits, targets = _same_shape_inputs(logits, targets, "logits", "targets")
    return _run("sigmoid_binary_cross_entropy", logits, targets)


def sigmoid_binary_cross_entropy_backward(dloss, cache):
    """(sigmoid(logits) - targets) / numel * dloss."""
    return _back("sigmoid_binary_cross_entropy", dloss, cache)


def binary_cross_entropy_forward(probs, targets):
    """Binary cross-entropy on probabilities, clipped to [1e-7, 1 - 1e-7] as Keras does."""
    probs, targets = _same_shape_inputs(probs, targets, "probs", "targets")
    return _run("binary_cross_entropy", probs, targets)


def binary_cross_entropy_backward(dloss, cache):
    """(-y/p + (1-y)/(1-p)) / numel * dloss; 0 where the clip changed p."""
    return _back("binary_cross_entropy", dloss, cache)


def categorical_cross_entropy_forward(probs, labels):
    """Cross-entropy on probabilities (N, C): each row normalized to sum 1, clipped to
    [1e-7, 1 - 1e-7], as Keras does; labels int (N,) or float (N, C)."""
    probs, labels = _class_inputs(probs, labels, "probs")
    return _run("categorical_cross_entropy", probs, labels)


def categorical_cross_entropy_backward(dloss, cache):
    return _back("categorical_cross_entropy", dloss, cache)


def mse_forward(pred, target):
    """Mean over all elements of (pred - target)^2."""
    pred, target = _same_shape_inputs(pred, target, "pred", "target")
    return _run("mse", pred, target)


def mse_backward(dloss, cache):
    """2 (pred - target) / numel * dloss."""
    return _back("mse", dloss, cache)


# ---- added for Keras's regression losses and sample weights ------------------------------------
__all__ += ["mae_forward", "mae_backward", "huber_forward", "huber_backward", "scale_rows"]


def mae_forward(pred, target):
    """Mean over all elements of |pred - target| (PyTorch's L1Loss, Keras's MeanAbsoluteError)."""
    pred, target = _same_shape_inputs(pred, target, "pred", "target")
    return _run("mae", pred, target)


def mae_backward(dloss, cache):
    """sign(pred - target) / numel * dloss (0 where they are equal)."""
    return _back("mae", dloss, cache)


def huber_forward(pred, target, delta=1.0):
    """Mean of 0.5 d^2 where |d| <= delta, delta (|d| - delta/2) elsewhere; d = pred - target
    (PyTorch's HuberLoss, Keras's Huber). delta > 0."""
    pred, target = _same_shape_inputs(pred, target, "pred", "target")
    delta = _checks.finite_float(delta, "delta", low=0.0, low_open=True)
    return _run("huber", pred, target, delta)


def huber_backward(dloss, cache):
    """d where |d| <= delta, else delta sign(d); over numel, times dloss."""
    return _back("huber", dloss, cache)


def scale_rows(x, w):
    """x (N, ...) with row n multiplied by w[n]: a loss gradient under sample weights w (N,)."""
    x = _checks.as_float(x, "x")
    if len(x.shape) < 1:
        raise ValueError(f"x must have a batch axis; received shape {tuple(x.shape)}")
    w = np.asarray(_device.to_numpy(w))
    if w.dtype.kind not in "biuf" or w.shape != (int(x.shape[0]),):
        raise ValueError(f"w must be a numeric array of shape ({int(x.shape[0])},), one weight per "
                         f"row of x; received dtype {w.dtype}, shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("w must be finite; received a NaN or infinite weight")
    with kernel_section():
        return _device.backend("losses").scale_rows(x, np.ascontiguousarray(w, dtype=x.dtype))
