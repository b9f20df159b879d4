"""Losses on the GPU (numba.cuda): the lesson plan.

Every loss writes its per-row (or per-element) terms into a float64 device array, then one
reduction kernel (_reduce.total) turns them into per-block partial sums, and that small array is
the one copy to the host: a loss is a python float, a metric the training loop reads every step.
Same formulas as kernels/reference/losses.py:

    softmax CE      lse = max + log sum exp(a - max);  term = lse - a[label]  (or sum_c y_c (lse - a_c))
    sigmoid BCE     max(a, 0) - a y + log1p(exp(-|a|))                     one thread per element
    BCE, CE on probabilities: Keras's clip to [1e-7, 1 - 1e-7] (CE first normalizes each row)
    MSE             (pred - target)^2                                      one thread per element

The ladder is the softmax cross-entropy, a reduction over each row of logits:
v1  one thread per row: max, sum of exp, probabilities and the row's loss in three walks along
    the row. Classes are few (10 for CIFAR-10), so this is the natural first kernel; neighbouring
    threads read addresses C apart. Not measured (no GPU in this session).
v2  one block of 32 threads (a warp) per row: the threads stride along the row together and
    combine max and sum in shared memory (kernels/cuda/_reduce.py). Pays off for many classes
    (a language model's vocabulary), not for 10. Not measured yet.

DEFAULT = 2. The backward, (p * sum_c y_c - y) / N * dloss, is pointwise given p (one thread per
element for int labels, per row for probability targets).
"""
import math

import numpy as np
from numba import cuda, float64

from tinydl.kernels._versions import active
from tinydl.kernels.cuda._launch import TPB, blocks, empty, flat, on_device
from tinydl.kernels.cuda._reduce import RTPB, block_max, block_sum, total

EPSILON = 1e-7


def _label_args(labels, dtype):
    # int labels (N,) or float targets (N, C); the unused kind is a 1-element stand-in
    labels = on_device(labels)
    if len(labels.shape) == 1:
        return labels, _stand_in((1, 1), dtype), 0
    return _stand_in((1,), np.int64), labels, 1


_stand_ins = {}


def _stand_in(shape, dtype):
    key = (shape, np.dtype(dtype))
    if key not in _stand_ins:
        _stand_ins[key] = empty(shape, dtype)
    return _stand_ins[key]


# ---- softmax cross-entropy, v1: one thread per row --------------------------------------------
@cuda.jit
def _sce_v1(logits, labels, targets, soft, probs, terms):
    i = cuda.grid(1)
    n, c = logits.shape
    if i < n:
        mx = logits[i, 0]
        for j in range(1, c):                       # walk 1: the row max
            mx = max(mx, logits[i, j])
        s = 0.0
        for j in range(c):                          # walk 2: exp and their sum
            e = math.exp(float64(logits[i, j]) - mx)
            probs[i, j] = e
            s += e
        lse = math.log(s)
        row = 0.0
        for j in range(c):                          # walk 3: normalize; the row's loss
            probs[i, j] = probs[i, j] / s
            if soft:
                row += targets[i, j] * (lse - (float64(logits[i, j]) - mx))
        if not soft:
            row = lse - (float64(logits[i, labels[i]]) - mx)
        terms[i] = row


# ---- softmax cross-entropy, v2: one warp-sized block per row ----------------------------------
@cuda.jit
def _sce_v2(logits, labels, targets, soft, probs, terms):
    buf = cuda.shared.array(RTPB, dtype=float64)
    i = cuda.blockIdx.x
    t = cuda.threadIdx.x
    c = logits.shape[1]
    mx = -math.inf
    for j in range(t, c, RTPB):
        mx = max(mx, float64(logits[i, j]))
    mx = block_max(buf, mx)
    s = 0.0
    for j in range(t, c, RTPB):
        e = math.exp(float64(logits[i, j]) - mx)
        probs[i, j] = e
        s += e
    s = block_sum(buf, s)
    lse = math.log(s)
    row = 0.0
    for j in range(t, c, RTPB):
        probs[i, j] = probs[i, j] / s
        if soft:
            row += targets[i, j] * (lse - (float64(logits[i, j]) - mx))
    row = block_sum(buf, row)
    if t == 0:
        terms[i] = row if soft else lse - (float64(logits[i, labels[i]]) - mx)


@cuda.jit
def _sce_backward(probs, labels, targets, soft, scale, d):
    # one thread per element: (p * sum_c y_c - y) * scale
    k = cuda.grid(1)
    n, c = probs.shape
    if k < n * c:
        i, j = k // c, k % c
        if soft:
            ysum = 0.0
            for jj in range(c):
                ysum += float64(targets[i, jj])
            d[i, j] = (probs[i, j] * ysum - targets[i, j]) * scale
        else:
            y = 1.0 if labels[i] == j else 0.0
            d[i, j] = (probs[i, j] - y) * scale


def _sce_forward(kernel_version):
    def softmax_cross_entropy_forward(logits, labels):
        # logits (N, C); labels int (N,) or float (N, C)
        logits = on_device(logits)
        n = logits.shape[0]
        lab, tgt, soft = _label_args(labels, logits.dtype)
        probs = empty(logits.shape, logits.dtype)
        terms = empty((n,), np.float64)
        if kernel_version == 1:
            _sce_v1[blocks(n), TPB](logits, lab, tgt, soft, probs, terms)
        else:
            _sce_v2[n, RTPB](logits, lab, tgt, soft, probs, terms)
        return total(terms) / n, (probs, lab, tgt, soft)
    softmax_cross_entropy_forward.__name__ += f"_v{kernel_version}"
    return softmax_cross_entropy_forward


def softmax_cross_entropy_backward_v1(dloss, cache):
    # dlogits (N, C) = (p * sum_c y_c - y) / N * dloss
    probs, lab, tgt, soft = cache
    n = probs.shape[0]
    d = empty(probs.shape, probs.dtype)
    _sce_backward[blocks(probs.size), TPB](probs, lab, tgt, soft, dloss / n, d)
    return d


softmax_cross_entropy_forward_v1 = _sce_forward(1)
softmax_cross_entropy_forward_v2 = _sce_forward(2)
softmax_cross_entropy_backward_v2 = softmax_cross_entropy_backward_v1   # the same pointwise kernel

VERSIONS = {
    1: {"softmax_cross_entropy_forward": softmax_cross_entropy_forward_v1,
        "softmax_cross_entropy_backward": softmax_cross_entropy_backward_v1},
    2: {"softmax_cross_entropy_forward": softmax_cross_entropy_forward_v2,
        "softmax_cross_entropy_backward": softmax_cross_entropy_backward_v2},
}
DEFAULT = 2


def softmax_cross_entropy_forward(logits, labels):
    return VERSIONS[active("cuda.losses", DEFAULT)]["softmax_cross_entropy_forward"](logits, labels)


def softmax_cross_entropy_backward(dloss, cache):
    return VERSIONS[active("cuda.losses", DEFAULT)]["softmax_cross_entropy_backward"](dloss, cache)


# ---- sigmoid binary cross-entropy on logits: one thread per element ---------------------------
@cuda.jit
def _sbce_forward(a, y, terms):
    i = cuda.grid(1)
    if i < a.size:
        ai = float64(a[i])
        terms[i] = max(ai, 0.0) - ai * y[i] + math.log1p(math.exp(-abs(ai)))


@cuda.jit
def _sbce_backward(a, y, scale, d):
    i = cuda.grid(1)
    if i < a.size:
        e = math.exp(-abs(a[i]))
        sig = 1 / (1 + e) if a[i] >= 0 else e / (1 + e)
        d[i] = (sig - y[i]) * scale


def sigmoid_binary_cross_entropy_forward(logits, targets):
    # logits a, targets y (N, ...) -> mean of the stable per-element terms
    a, y = on_device(logits), on_device(targets)
    terms = empty((a.size,), np.float64)
    _sbce_forward[blocks(a.size), TPB](flat(a), flat(y), terms)
    return total(terms) / a.size, (a, y)


def sigmoid_binary_cross_entropy_backward(dloss, cache):
    # (sigmoid(a) - y) / numel * dloss
    a, y = cache
    d = empty(a.shape, a.dtype)
    _sbce_backward[blocks(a.size), TPB](flat(a), flat(y), dloss / a.size, flat(d))
    return d


# ---- binary cross-entropy on probabilities: one thread per element ----------------------------
@cuda.jit
def _bce_forward(p, y, lo, hi, terms):
    i = cuda.grid(1)
    if i < p.size:
        pc = float64(min(max(p[i], lo), hi))        # the clip, in p's dtype
        terms[i] = -(y[i] * math.log(pc) + (1 - y[i]) * math.log(1 - pc))


@cuda.jit
def _bce_backward(p, y, lo, hi, scale, d):
    i = cuda.grid(1)
    if i < p.size:
        if p[i] >= lo and p[i] <= hi:               # zero gradient where the clip bit
            pc = float64(p[i])
            d[i] = (-y[i] / pc + (1 - y[i]) / (1 - pc)) * scale
        else:
            d[i] = 0


def _clip_bounds(dtype):
    dt = np.dtype(dtype).type
    return dt(EPSILON), dt(1 - EPSILON)


def binary_cross_entropy_forward(probs, targets):
    p, y = on_device(probs), on_device(targets)
    terms = empty((p.size,), np.float64)
    _bce_forward[blocks(p.size), TPB](flat(p), flat(y), *_clip_bounds(p.dtype), terms)
    return total(terms) / p.size, (p, y)


def binary_cross_entropy_backward(dloss, cache):
    p, y = cache
    d = empty(p.shape, p.dtype)
    _bce_backward[blocks(p.size), TPB](flat(p), flat(y), *_clip_bounds(p.dtype), dloss / p.size, flat(d))
    return d


# ---- categorical cross-entropy on probabilities: one thread per row ---------------------------
@cuda.jit
def _cce_forward(probs, labels, targets, soft, lo, hi, q, s, terms):
    # q = p / sum_c p (each row normalized), c = clip(q), term = -sum_c y_c log c
    i = cuda.grid(1)
    n, c = probs.shape
    if i < n:
        si = probs[i, 0]
        for j in range(1, c):
            si += probs[i, j]
        s[i] = si
        row = 0.0
        for j in range(c):
            qj = probs[i, j] / si
            q[i, j] = qj
            cj = float64(min(max(q[i, j], lo), hi))
            if soft:
                row -= targets[i, j] * math.log(cj)
            elif labels[i] == j:
                row -= math.log(cj)
            elif qj != qj:
                row = math.nan   # as -sum_c y_c log c does: 0 * log(NaN) is NaN
        terms[i] = row


@cuda.jit
def _cce_backward(q, s, labels, targets, soft, lo, hi, scale, d):
    # gq = -y / c where the clip let q through (else 0); dp_k = (gq_k - sum_j gq_j q_j) / s
    i = cuda.grid(1)
    n, c = q.shape
    if i < n:
        dot = 0.0
        for j in range(c):
            y = targets[i, j] if soft else (1.0 if labels[i] == j else 0.0)
            g = -y / q[i, j] if q[i, j] >= lo and q[i, j] <= hi else 0.0
            d[i, j] = g                               # gq, kept in d for the second walk
            dot += float64(g) * q[i, j]
        for j in range(c):
            d[i, j] = (d[i, j] - dot) / s[i] * scale


def categorical_cross_entropy_forward(probs, labels):
    # probs (N, C); labels int (N,) or float (N, C)
    p = on_device(probs)
    n = p.shape[0]
    lab, tgt, soft = _label_args(labels, p.dtype)
    q = empty(p.shape, p.dtype)
    s = empty((n,), p.dtype)
    terms = empty((n,), np.float64)
    _cce_forward[blocks(n), TPB](p, lab, tgt, soft, *_clip_bounds(p.dtype), q, s, terms)
    return total(terms) / n, (q, s, lab, tgt, soft)


def categorical_cross_entropy_backward(dloss, cache):
    q, s, lab, tgt, soft = cache
    n = q.shape[0]
    d = empty(q.shape, q.dtype)
    _cce_backward[blocks(n), TPB](q, s, lab, tgt, soft, *_clip_bounds(q.dtype), dloss / n, d)
    return d


# ---- mean squared error: one thread per element -----------------------------------------------
@cuda.jit
def _mse_forward(pred, target, diff, terms):
    i = cuda.grid(1)
    if i < pred.size:
        dv = pred[i] - target[i]
        diff[i] = dv
        terms[i] = float64(dv) * float64(dv)


@cuda.jit
def _mse_backward(diff, scale, d):
    i = cuda.grid(1)
    if i < diff.size:
        d[i] = diff[i] * scale


def mse_forward(pred, target):
    pred, target = on_device(pred), on_device(target)
    diff = empty(pred.shape, pred.dtype)
    terms = empty((pred.size,), np.float64)
    _mse_forward[blocks(pred.size), TPB](flat(pred), flat(target), flat(diff), terms)
    return total(terms) / pred.size, diff


def mse_backward(dloss, cache):
    # 2 (pred - target) / numel * dloss
    diff = cache
    d = empty(diff.shape, diff.dtype)
    _mse_backward[blocks(diff.size), TPB](flat(diff), 2 * dloss / diff.size, flat(d))
    return d


# ---- mean absolute error: one thread per element ------------------------------------------------
@cuda.jit
def _mae_forward(pred, target, diff, terms):
    i = cuda.grid(1)
    if i < pred.size:
        dv = pred[i] - target[i]
        diff[i] = dv
        terms[i] = abs(float64(dv))


@cuda.jit
def _mae_backward(diff, scale, d):
    # sign(diff) * scale, 0 where diff == 0, NaN where diff is NaN
    i = cuda.grid(1)
    if i < diff.size:
        if diff[i] > 0:
            d[i] = scale
        elif diff[i] < 0:
            d[i] = -scale
        elif diff[i] == 0:
            d[i] = 0
        else:               # NaN: NaN, as the reference's sign
            d[i] = diff[i]


def mae_forward(pred, target):
    pred, target = on_device(pred), on_device(target)
    diff = empty(pred.shape, pred.dtype)
    terms = empty((pred.size,), np.float64)
    _mae_forward[blocks(pred.size), TPB](flat(pred), flat(target), flat(diff), terms)
    return total(terms) / pred.size, diff


def mae_backward(dloss, cache):
    diff = cache
    d = empty(diff.shape, diff.dtype)
    _mae_backward[blocks(diff.size), TPB](flat(diff), dloss / diff.size, flat(d))
    return d


# ---- Huber: one thread per element ----------------------------------------------------------------
@cuda.jit
def _huber_forward(pred, target, delta, diff, terms):
    i = cuda.grid(1)
    if i < pred.size:
        dv = pred[i] - target[i]
        diff[i] = dv
        a = abs(float64(dv))
        terms[i] = 0.5 * a * a if a <= delta else delta * (a - 0.5 * delta)


@cuda.jit
def _huber_backward(diff, delta, scale, d):
    # diff where |diff| <= delta, else delta sign(diff); times scale
    i = cuda.grid(1)
    if i < diff.size:
        v = float64(diff[i])
        if abs(v) <= delta:
            d[i] = v * scale
        elif v > 0:
            d[i] = delta * scale
        elif v < 0:
            d[i] = -delta * scale
        else:               # NaN: NaN, as the reference's sign
            d[i] = v


def huber_forward(pred, target, delta):
    pred, target = on_device(pred), on_device(target)
    diff = empty(pred.shape, pred.dtype)
    terms = empty((pred.size,), np.float64)
    _huber_forward[blocks(pred.size), TPB](flat(pred), flat(target), float(delta), flat(diff), terms)
    return total(terms) / pred.size, (diff, float(delta))


def huber_backward(dloss, cache):
    diff, delta = cache
    d = empty(diff.shape, diff.dtype)
    _huber_backward[blocks(diff.size), TPB](flat(diff), delta, dloss / diff.size, flat(d))
    return d


# ---- sample weights on a gradient: one thread per element, row n times w[n] ------------------------
@cuda.jit
def _scale_rows(x, w, m, out):
    # x, out flat (N * M,); w (N,)
    k = cuda.grid(1)
    if k < x.size:
        out[k] = x[k] * w[k // m]


def scale_rows(x, w):
    x = on_device(x)
    out = empty(x.shape, x.dtype)
    if x.size:
        m = x.size // x.shape[0]
        _scale_rows[blocks(x.size), TPB](flat(x), on_device(w.astype(x.dtype)), m, flat(out))
    return out
