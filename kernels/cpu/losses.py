"""Losses on the CPU (Numba). One implementation each, so no VERSIONS table.

Every loss is one fused pass: the per-element (or per-row) terms are computed and summed in
float64 in the same loop (a prange reduction), without writing the terms to memory. The
softmax cross-entropy keeps the softmax it computed on the way (its backward is p - y); the
others keep their inputs and recompute what the backward needs. Rows (or elements) run in
parallel. Same formulas as kernels/reference/losses.py:
    softmax CE      lse = max + log sum exp(a - max);  term = lse - a[label]  (or sum_c y_c(lse - a_c))
    sigmoid BCE     max(a, 0) - a y + log1p(exp(-|a|))
    BCE, CE on probabilities: Keras's clip to [1e-7, 1 - 1e-7] (CE first normalizes each row)
"""
import math

import numpy as np
from numba import njit, prange

EPSILON = 1e-7


# ---- softmax cross-entropy (fused, on logits) ------------------------------------------------
@njit(parallel=True, cache=True)
def _sce_forward(logits, labels, targets, soft, probs):
    # logits, probs (N, C); labels (N,) int or targets (N, C) when soft -> sum of row losses
    n, c = logits.shape
    total = 0.0
    for i in prange(n):
        mx = logits[i, 0]
        for j in range(1, c):
            mx = max(mx, logits[i, j])
        s = 0.0
        for j in range(c):
            e = math.exp(np.float64(logits[i, j] - mx))
            probs[i, j] = e
            s += e
        lse = math.log(s)
        inv = 1.0 / s
        for j in range(c):
            probs[i, j] = probs[i, j] * inv
        if soft:
            row = 0.0
            for j in range(c):
                row += targets[i, j] * (lse - np.float64(logits[i, j] - mx))
        else:
            row = lse - np.float64(logits[i, labels[i]] - mx)
        total += row
    return total


@njit(parallel=True, cache=True)
def _sce_backward(probs, labels, targets, soft, scale):
    # (p * sum_c y_c - y) * scale
    n, c = probs.shape
    d = np.empty_like(probs)
    for i in prange(n):
        if soft:
            ysum = 0.0
            for j in range(c):
                ysum += targets[i, j]
            for j in range(c):
                d[i, j] = (probs[i, j] * ysum - targets[i, j]) * scale
        else:
            for j in range(c):
                d[i, j] = probs[i, j] * scale
            d[i, labels[i]] = (np.float64(probs[i, labels[i]]) - 1.0) * scale
    return d


def _label_args(labels, logits):
    # the kernels take both kinds of label; the unused one is a 1-element stand-in
    if labels.ndim == 1:
        return labels, np.zeros((1, 1), dtype=logits.dtype), False
    return np.zeros(1, dtype=np.int64), labels, True


def softmax_cross_entropy_forward(logits, labels):
    # logits (N, C); labels int (N,) or float (N, C)
    probs = np.empty_like(logits)
    total = _sce_forward(logits, *_label_args(labels, logits), probs)
    return float(total / logits.shape[0]), (probs, labels)


def softmax_cross_entropy_backward(dloss, cache):
    probs, labels = cache
    return _sce_backward(probs, *_label_args(labels, probs), dloss / probs.shape[0])


# ---- binary cross-entropy on logits (fused sigmoid) -------------------------------------------
@njit(parallel=True, cache=True)
def _sbce_forward(a, y):
    total = 0.0
    for i in prange(a.size):
        ai = np.float64(a[i])
        total += max(ai, 0.0) - ai * y[i] + math.log1p(math.exp(-abs(ai)))
    return total


@njit(parallel=True, cache=True)
def _sbce_backward(a, y, scale):
    d = np.empty_like(a)
    for i in prange(a.size):
        ai = np.float64(a[i])
        e = math.exp(-abs(ai))
        sig = 1.0 / (1.0 + e) if ai >= 0 else e / (1.0 + e)
        d[i] = (sig - y[i]) * scale
    return d


def sigmoid_binary_cross_entropy_forward(logits, targets):
    total = _sbce_forward(logits.reshape(-1), targets.reshape(-1))
    return float(total / logits.size), (logits, targets)


def sigmoid_binary_cross_entropy_backward(dloss, cache):
    a, y = cache
    return _sbce_backward(a.reshape(-1), y.reshape(-1), dloss / a.size).reshape(a.shape)


# ---- binary cross-entropy on probabilities ----------------------------------------------------
@njit(parallel=True, cache=True)
def _bce_forward(p, y, lo, hi):
    total = 0.0
    for i in prange(p.size):
        pi = np.float64(min(max(p[i], lo), hi))
        total -= y[i] * math.log(pi) + (1.0 - y[i]) * math.log(1.0 - pi)
    return total


@njit(parallel=True, cache=True)
def _bce_backward(p, y, lo, hi, scale):
    d = np.empty_like(p)
    for i in prange(p.size):
        if p[i] >= lo and p[i] <= hi:        # the clip let p through
            pi = np.float64(p[i])
            d[i] = (-y[i] / pi + (1.0 - y[i]) / (1.0 - pi)) * scale
        else:
            d[i] = 0
    return d


def _clip_bounds(dtype):
    return dtype.type(EPSILON), dtype.type(1 - EPSILON)


def binary_cross_entropy_forward(probs, targets):
    total = _bce_forward(probs.reshape(-1), targets.reshape(-1), *_clip_bounds(probs.dtype))
    return float(total / probs.size), (probs, targets)


def binary_cross_entropy_backward(dloss, cache):
    p, y = cache
    d = _bce_backward(p.reshape(-1), y.reshape(-1), *_clip_bounds(p.dtype), dloss / p.size)
    return d.reshape(p.shape)


# ---- categorical cross-entropy on probabilities -----------------------------------------------
@njit(parallel=True, cache=True)
def _cce_forward(p, labels, targets, soft, lo, hi):
    # each row: q = p / sum(p), clipped to [lo, hi]; term = -sum_c y_c log q_c
    n, c = p.shape
    total = 0.0
    for i in prange(n):
        s = 0.0
        for j in range(c):
            s += p[i, j]
        if soft:
            row = 0.0
            for j in range(c):
                q = min(max(p[i, j] / s, lo), hi)
                row -= targets[i, j] * math.log(q)
        else:
            row = -math.log(min(max(p[i, labels[i]] / s, lo), hi))
            for j in range(c):   # as -sum_c y_c log q_c does: 0 * log(NaN) is NaN
                if p[i, j] / s != p[i, j] / s:
                    row = np.nan
        total += row
    return total


@njit(parallel=True, cache=True)
def _cce_backward(p, labels, targets, soft, lo, hi, scale):
    # g_c = -y_c / q_c where lo <= q_c <= hi (else 0); dp_c = (g_c - sum_j g_j q_j) / s * scale
    n, c = p.shape
    d = np.empty_like(p)
    for i in prange(n):
        s = 0.0
        for j in range(c):
            s += p[i, j]
        dot = 0.0
        for j in range(c):
            q = p[i, j] / s
            y = targets[i, j] if soft else (1.0 if j == labels[i] else 0.0)
            g = -y / q if (q >= lo and q <= hi) else 0.0
            d[i, j] = g
            dot += g * q
        for j in range(c):
            d[i, j] = (d[i, j] - dot) / s * scale
    return d


def categorical_cross_entropy_forward(probs, labels):
    total = _cce_forward(probs, *_label_args(labels, probs), *_clip_bounds(probs.dtype))
    return float(total / probs.shape[0]), (probs, labels)


def categorical_cross_entropy_backward(dloss, cache):
    p, labels = cache
    return _cce_backward(p, *_label_args(labels, p), *_clip_bounds(p.dtype), dloss / p.shape[0])


# ---- mean squared error -----------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _mse_forward(pred, target, diff):
    total = 0.0
    for i in prange(pred.size):
        d = pred[i] - target[i]
        diff[i] = d
        total += np.float64(d) * d
    return total


@njit(parallel=True, cache=True)
def _mse_backward(diff, scale):
    d = np.empty_like(diff)
    for i in prange(diff.size):
        d[i] = diff[i] * scale
    return d


def mse_forward(pred, target):
    diff = np.empty_like(pred)
    total = _mse_forward(pred.reshape(-1), target.reshape(-1), diff.reshape(-1))
    return float(total / pred.size), diff


def mse_backward(dloss, cache):
    diff = cache
    return _mse_backward(diff.reshape(-1), 2.0 * dloss / diff.size).reshape(diff.shape)


# ---- mean absolute error ----------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _mae_forward(pred, target, diff):
    total = 0.0
    for i in prange(pred.size):
        d = pred[i] - target[i]
        diff[i] = d
        total += abs(np.float64(d))
    return total


@njit(parallel=True, cache=True)
def _mae_backward(diff, scale):
    # sign(d) * scale, 0 where d == 0, NaN where d is NaN
    d = np.empty_like(diff)
    for i in prange(diff.size):
        if diff[i] > 0:
            d[i] = scale
        elif diff[i] < 0:
            d[i] = -scale
        elif diff[i] == 0:
            d[i] = 0
        else:               # NaN: NaN, as the reference's sign
            d[i] = diff[i]
    return d


def mae_forward(pred, target):
    diff = np.empty_like(pred)
    total = _mae_forward(pred.reshape(-1), target.reshape(-1), diff.reshape(-1))
    return float(total / pred.size), diff


def mae_backward(dloss, cache):
    diff = cache
    return _mae_backward(diff.reshape(-1), dloss / diff.size).reshape(diff.shape)


# ---- Huber: quadratic inside |d| <= delta, linear outside ---------------------------------------
@njit(parallel=True, cache=True)
def _huber_forward(pred, target, delta, diff):
    total = 0.0
    for i in prange(pred.size):
        d = pred[i] - target[i]
        diff[i] = d
        a = abs(np.float64(d))
        total += 0.5 * a * a if a <= delta else delta * (a - 0.5 * delta)
    return total


@njit(parallel=True, cache=True)
def _huber_backward(diff, delta, scale):
    d = np.empty_like(diff)
    for i in prange(diff.size):
        v = np.float64(diff[i])
        if abs(v) <= delta:
            d[i] = v * scale
        elif v > 0:
            d[i] = delta * scale
        elif v < 0:
            d[i] = -delta * scale
        else:               # NaN: NaN, as the reference's sign
            d[i] = v
    return d


def huber_forward(pred, target, delta):
    diff = np.empty_like(pred)
    total = _huber_forward(pred.reshape(-1), target.reshape(-1), float(delta), diff.reshape(-1))
    return float(total / pred.size), (diff, float(delta))


def huber_backward(dloss, cache):
    diff, delta = cache
    return _huber_backward(diff.reshape(-1), delta, dloss / diff.size).reshape(diff.shape)


# ---- sample weights on a gradient: row n times w[n] ---------------------------------------------
@njit(parallel=True, cache=True)
def _scale_rows(x, w, out):
    # x, out (N, M); w (N,)
    n, m = x.shape
    for i in prange(n):
        for j in range(m):
            out[i, j] = x[i, j] * w[i]
    return out


def scale_rows(x, w):
    n = x.shape[0]
    x2 = x.reshape(n, -1)
    out = _scale_rows(x2, w.astype(x.dtype), np.empty_like(x2))
    return out.reshape(x.shape)
