"""Losses, plain NumPy: the ground truth of kernels/cpu/losses.py.

Every loss reduces by the MEAN (over the batch for the cross-entropies over classes, over all
elements for the elementwise ones) and returns (loss as a python float, cache). The per-element
terms are computed in the input's dtype and summed in float64. Each backward takes
(dloss, cache) and returns the gradient with respect to the first argument, times dloss.
"""
import numpy as np

EPSILON = 1e-7   # Keras's clip for losses on probabilities: [1e-7, 1 - 1e-7]


def _mean64(terms, count):
    return float(np.sum(terms, dtype=np.float64) / count)


def _targets(labels, shape, dtype):
    # int labels (N,) -> one-hot (N, C); float labels (N, C) are used as they are
    if labels.ndim == 1:
        y = np.zeros(shape, dtype=dtype)
        y[np.arange(shape[0]), labels] = 1
        return y
    return labels


def softmax_cross_entropy_forward(logits, labels):
    # logits (N, C); labels int (N,) class indices or float (N, C) target probabilities
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)          # step 1: shift by the row max
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))   # step 2: log-sum-exp
    if labels.ndim == 1:
        terms = -log_probs[np.arange(n), labels]            # step 3: -log p[label]
    else:
        terms = -(labels * log_probs).sum(axis=1)           # step 3: -sum_c y_c log p_c
    return _mean64(terms, n), (np.exp(log_probs), labels)


def softmax_cross_entropy_backward(dloss, cache):
    # dlogits (N, C) = (p * sum_c y_c - y) / N * dloss   (= (p - y) / N when rows of y sum to 1)
    probs, labels = cache
    n = probs.shape[0]
    y = _targets(labels, probs.shape, probs.dtype)
    return (probs * y.sum(axis=1, keepdims=True) - y) * (dloss / n)


def sigmoid_binary_cross_entropy_forward(logits, targets):
    # logits a, targets y (N, ...): max(a, 0) - a y + log(1 + exp(-|a|)), stable for any a
    a, y = logits, targets
    terms = np.maximum(a, 0) - a * y + np.log1p(np.exp(-np.abs(a)))
    return _mean64(terms, a.size), (a, y)


def sigmoid_binary_cross_entropy_backward(dloss, cache):
    # (sigmoid(a) - y) / numel * dloss
    a, y = cache
    e = np.exp(-np.abs(a))
    sig = np.where(a >= 0, 1 / (1 + e), e / (1 + e))
    return (sig - y) * (dloss / a.size)


def binary_cross_entropy_forward(probs, targets):
    # probs p, targets y (N, ...): -(y log p + (1 - y) log(1 - p)) with p clipped as Keras does
    p = np.clip(probs, EPSILON, 1 - EPSILON)
    terms = -(targets * np.log(p) + (1 - targets) * np.log(1 - p))
    return _mean64(terms, p.size), (probs, targets)


def binary_cross_entropy_backward(dloss, cache):
    # (-y / p + (1 - y) / (1 - p)) / numel * dloss where the clip let p through, else 0
    probs, y = cache
    dt = probs.dtype.type
    inside = (probs >= dt(EPSILON)) & (probs <= dt(1 - EPSILON))
    p = np.clip(probs, EPSILON, 1 - EPSILON)
    g = (-y / p + (1 - y) / (1 - p)) * (dloss / p.size)
    return np.where(inside, g, 0).astype(probs.dtype)


def categorical_cross_entropy_forward(probs, labels):
    # probs (N, C); labels int (N,) or float (N, C). As Keras: q = p / sum_c p (each row
    # normalized), c = clip(q, eps, 1 - eps), loss = mean_n -sum_c y_c log c
    n = probs.shape[0]
    s = probs.sum(axis=1, keepdims=True)
    q = probs / s
    c = np.clip(q, EPSILON, 1 - EPSILON)
    y = _targets(labels, probs.shape, probs.dtype)
    terms = -(y * np.log(c)).sum(axis=1)
    return _mean64(terms, n), (q, s, labels)


def categorical_cross_entropy_backward(dloss, cache):
    # g_q = -y / c where the clip let q through (else 0); back through q = p / s:
    #   dp_k = (g_q,k - sum_j g_q,j q_j) / s
    q, s, labels = cache
    n = q.shape[0]
    dt = q.dtype.type
    y = _targets(labels, q.shape, q.dtype)
    inside = (q >= dt(EPSILON)) & (q <= dt(1 - EPSILON))
    gq = np.where(inside, -y / np.clip(q, EPSILON, 1 - EPSILON), 0).astype(q.dtype)
    dp = (gq - (gq * q).sum(axis=1, keepdims=True)) / s
    return dp * (dloss / n)


def mse_forward(pred, target):
    # mean over all elements of (pred - target)^2
    diff = pred - target
    return _mean64(diff * diff, diff.size), diff


def mse_backward(dloss, cache):
    # 2 (pred - target) / numel * dloss
    diff = cache
    return diff * (2 * dloss / diff.size)


# ---- added for Keras's regression losses and sample weights ------------------------------------
def mae_forward(pred, target):
    # mean over all elements of |pred - target|
    diff = pred - target
    return _mean64(np.abs(diff), diff.size), diff


def mae_backward(dloss, cache):
    # sign(pred - target) / numel * dloss   (0 where pred == target, as PyTorch's L1Loss)
    diff = cache
    return (np.sign(diff) * (dloss / diff.size)).astype(diff.dtype)


def huber_forward(pred, target, delta):
    # d = pred - target: 0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta); the mean
    diff = pred - target
    a = np.abs(diff)
    terms = np.where(a <= delta, 0.5 * diff * diff, delta * (a - 0.5 * delta))
    return _mean64(terms, diff.size), (diff, delta)


def huber_backward(dloss, cache):
    # d where |d| <= delta, else delta sign(d); over numel, times dloss
    diff, delta = cache
    g = np.where(np.abs(diff) <= delta, diff, delta * np.sign(diff))
    return (g * (dloss / diff.size)).astype(diff.dtype)


def scale_rows(x, w):
    # x (N, ...), w (N,) -> x * w[n] on every element of row n (a sample weight on a gradient)
    return x * w.reshape((-1,) + (1,) * (x.ndim - 1))
