"""Scaled dot-product attention on the GPU (numba.cuda): the lesson plan.

Shapes (after tinydl/ops/attention.py flattened the batch dims): q (B, L, E), k (B, S, E),
v (B, S, Ev) -> out (B, L, Ev). mask is None or additive (Bm, Lm, Sm) with mask_index (B,);
is_causal hides keys j > i; dropout keeps weight (b, i, j) when the splitmix64 hash of
(seed, (b*L + i)*S + j) is >= dropout_p, the same function as dropout's (kernels/cuda/dropout.py),
so every device drops the same weights. Fully masked rows give output 0 and zero gradients.

v1  textbook, the scores materialized: one thread per score (b, i, j) writes s = q_i . k_j *
    scale (+ mask) into a (B, L, S) array, one thread per row turns its row into softmax weights
    in place, one thread per output (b, i, e) sums p * drop * v. The backward keeps p from the
    forward: threads per (b, j, e) for dv, per (b, i, j) for dp, per row for ds = p (dp - D),
    per output element for dq and dk. Memory grows like B*L*S. Not measured (no GPU here).
v2  fused rows with an online softmax (flash attention's idea, one thread per query row):
    the thread walks the keys once, keeping the running max m and sum l of its row; when a
    score raises the max, what it has accumulated so far is rescaled by exp(m_old - m_new).
    The output row in global memory is the accumulator (so Ev needs no compile-time bound),
    and only the row's max m and sum l are kept for the backward. The backward recomputes
    each weight p = exp(s - m) / l: one thread per query row for dq, one thread per key row for
    dk and dv (each thread owns its output rows: no atomics), with D_i = dout_i . out_i
    (= sum_j p dp) precomputed per row. The score matrix never exists: memory grows like B*L*E.
    NaN and inf come out as on the reference: skipping masked keys is exact only for finite
    numbers, so with a NaN or inf in q, k or v (dout or out in the backward) no key is
    skipped, and a row meeting a NaN or +inf score is redone as the reference's softmax.
    Not measured yet: a thread per row leaves the GPU idle at small B*L, and the next step
    would be flash attention's block per query tile with k, v tiles staged in shared memory.

DEFAULT = 2.
"""
import math

import numpy as np
from numba import cuda, float64

from tinydl.kernels._versions import active
from tinydl.kernels.cuda._launch import TPB, blocks, empty, on_device, quiet_overflow, zeros
from tinydl.kernels.cuda.dropout import seed_key, unit


# ---- pieces every kernel shares -----------------------------------------------------------------
@cuda.jit(device=True)
def _score(q, k, b, i, j, mask, mask_index, has_mask, is_causal, scale):
    # s = q_i . k_j * scale, -inf above the causal diagonal (as the reference: even a NaN
    # score there), then + mask
    s = -math.inf
    if not (is_causal and j > i):
        s = 0.0
        for e in range(q.shape[2]):
            s += float64(q[b, i, e]) * k[b, j, e]
        s *= scale
    if has_mask:
        mi = mask_index[b]
        s += mask[mi, i if mask.shape[1] > 1 else 0, j if mask.shape[2] > 1 else 0]
    return s


@cuda.jit(device=True)
def _keep(key, b, i, j, L, S, dropout_p, inv_keep):
    # the dropout factor of weight (b, i, j): 1/(1-p) when kept, 0 when dropped, 1 without dropout
    if dropout_p == 0.0:
        return 1.0
    return inv_keep if unit(key, (b * L + i) * S + j) >= dropout_p else 0.0


@cuda.jit(device=True)
def _dot_rows(a, b, ia, c, ic):
    # a[b, ia, :] . c[b, ic, :] in float64
    acc = 0.0
    for e in range(a.shape[2]):
        acc += float64(a[b, ia, e]) * c[b, ic, e]
    return acc


# ---- v1: the scores materialized --------------------------------------------------------------
@cuda.jit
def _scores_v1(q, k, mask, mask_index, has_mask, is_causal, scale, p):
    # one thread per score (b, i, j)
    t = cuda.grid(1)
    B, L, S = p.shape
    if t < B * L * S:
        b, r = t // (L * S), t % (L * S)
        i, j = r // S, r % S
        p[b, i, j] = _score(q, k, b, i, j, mask, mask_index, has_mask, is_causal, scale)


@cuda.jit
def _softmax_rows_v1(p):
    # one thread per row (b, i): softmax in place; a row of only -inf becomes zeros. As the
    # reference: the row max is NaN if a score is NaN, and a non-finite max is replaced by 0
    t = cuda.grid(1)
    B, L, S = p.shape
    if t < B * L:
        b, i = t // L, t % L
        m = -math.inf
        for j in range(S):
            x = float64(p[b, i, j])
            if x > m or x != x:
                m = x if m == m else m
        if not (m > -math.inf and m < math.inf):
            m = 0.0
        total = 0.0
        for j in range(S):
            e = math.exp(p[b, i, j] - m)
            p[b, i, j] = e
            total += e
        if total > 0.0:
            for j in range(S):
                p[b, i, j] = p[b, i, j] / total


@cuda.jit
def _out_v1(p, v, key, dropout_p, inv_keep, out):
    # one thread per output (b, i, e): sum_j p[b, i, j] drop[b, i, j] v[b, j, e]
    t = cuda.grid(1)
    B, L, Ev = out.shape
    S = p.shape[2]
    if t < B * L * Ev:
        b, r = t // (L * Ev), t % (L * Ev)
        i, e = r // Ev, r % Ev
        acc = 0.0
        for j in range(S):
            acc += float64(p[b, i, j]) * _keep(key, b, i, j, L, S, dropout_p, inv_keep) * v[b, j, e]
        out[b, i, e] = acc


@cuda.jit
def _dv_v1(p, dout, key, dropout_p, inv_keep, dv):
    # one thread per (b, j, e): dv = sum_i p drop dout[b, i, e]
    t = cuda.grid(1)
    B, S, Ev = dv.shape
    L = p.shape[1]
    if t < B * S * Ev:
        b, r = t // (S * Ev), t % (S * Ev)
        j, e = r // Ev, r % Ev
        acc = 0.0
        for i in range(L):
            acc += float64(p[b, i, j]) * _keep(key, b, i, j, L, S, dropout_p, inv_keep) * dout[b, i, e]
        dv[b, j, e] = acc


@cuda.jit
def _dp_v1(dout, v, key, dropout_p, inv_keep, dp):
    # one thread per (b, i, j): dp = drop * (dout_i . v_j)
    t = cuda.grid(1)
    B, L, S = dp.shape
    if t < B * L * S:
        b, r = t // (L * S), t % (L * S)
        i, j = r // S, r % S
        dp[b, i, j] = _keep(key, b, i, j, L, S, dropout_p, inv_keep) * _dot_rows(dout, b, i, v, j)


@cuda.jit
def _ds_rows_v1(p, dp):
    # one thread per row: ds = p (dp - sum_j p dp), in place of dp
    t = cuda.grid(1)
    B, L, S = p.shape
    if t < B * L:
        b, i = t // L, t % L
        d = 0.0
        for j in range(S):
            d += float64(p[b, i, j]) * dp[b, i, j]
        for j in range(S):
            dp[b, i, j] = p[b, i, j] * (dp[b, i, j] - d)


@cuda.jit
def _dq_v1(ds, k, scale, dq):
    # one thread per (b, i, e): dq = scale * sum_j ds[b, i, j] k[b, j, e]
    t = cuda.grid(1)
    B, L, E = dq.shape
    S = ds.shape[2]
    if t < B * L * E:
        b, r = t // (L * E), t % (L * E)
        i, e = r // E, r % E
        acc = 0.0
        for j in range(S):
            acc += float64(ds[b, i, j]) * k[b, j, e]
        dq[b, i, e] = acc * scale


@cuda.jit
def _dk_v1(ds, q, scale, dk):
    # one thread per (b, j, e): dk = scale * sum_i ds[b, i, j] q[b, i, e]
    t = cuda.grid(1)
    B, S, E = dk.shape
    L = ds.shape[1]
    if t < B * S * E:
        b, r = t // (S * E), t % (S * E)
        j, e = r // E, r % E
        acc = 0.0
        for i in range(L):
            acc += float64(ds[b, i, j]) * q[b, i, e]
        dk[b, j, e] = acc * scale


def _mask_args(mask, mask_index, dtype):
    # kernels want arrays of fixed types: a (1, 1, 1) stand-in means "no mask"
    if mask is None:
        return empty((1, 1, 1), dtype), empty((1,), np.int64), False
    return on_device(mask), on_device(mask_index), True


def _launch(kernel, n, *args):
    if n:
        with quiet_overflow():
            kernel[blocks(n), TPB](*args)


def attention_forward_v1(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed):
    # q (B, L, E), k (B, S, E), v (B, S, Ev) -> out (B, L, Ev)
    q, k, v = on_device(q), on_device(k), on_device(v)
    B, L, _ = q.shape
    S, Ev = k.shape[1], v.shape[2]
    m, mi, has_mask = _mask_args(mask, mask_index, q.dtype)
    inv_keep = 1.0 / (1.0 - dropout_p)
    p = empty((B, L, S), q.dtype)
    _launch(_scores_v1, B * L * S, q, k, m, mi, has_mask, bool(is_causal), float(scale), p)   # step 1
    _launch(_softmax_rows_v1, B * L, p)                                                       # step 2
    out = empty((B, L, Ev), q.dtype)
    _launch(_out_v1, out.size, p, v, seed_key(seed), float(dropout_p), inv_keep, out)       # step 3
    return out, (q, k, v, p, float(dropout_p), float(scale), seed_key(seed))


def attention_backward_v1(dout, cache):
    # dout (B, L, Ev) -> dq (B, L, E), dk (B, S, E), dv (B, S, Ev)
    q, k, v, p, dropout_p, scale, key = cache
    dout = on_device(dout)
    inv_keep = 1.0 / (1.0 - dropout_p)
    dv = empty(v.shape, q.dtype)
    _launch(_dv_v1, dv.size, p, dout, key, dropout_p, inv_keep, dv)          # step 1: dv = pd^T dout
    ds = empty(p.shape, q.dtype)
    _launch(_dp_v1, ds.size, dout, v, key, dropout_p, inv_keep, ds)          # step 2: dp
    _launch(_ds_rows_v1, p.shape[0] * p.shape[1], p, ds)                      # step 3: ds
    dq, dk = empty(q.shape, q.dtype), empty(k.shape, q.dtype)
    _launch(_dq_v1, dq.size, ds, k, scale, dq)                                # step 4: dq, dk
    _launch(_dk_v1, dk.size, ds, q, scale, dk)
    return dq, dk, dv


# ---- v2: fused rows, online softmax, only the row's max and sum kept -------------------------
# NaN and inf as the reference (kernels/reference/attention.py) gives them:
#   - the row max is NaN when a score is NaN, and a max that is not finite (NaN, +inf, or -inf
#     for a fully masked row) is replaced by 0; the row sum l is replaced by 1 when not > 0;
#     p_j = exp(s_j - m) / l, so a NaN score gives a NaN row and +inf gives inf / inf = NaN
#   - the reference multiplies whole matrices: a weight 0 still meets v, k, q, dout, so
#     0 * inf = NaN reaches every row. Skipping masked keys and zero weights is exact only
#     when all of them are finite; otherwise ("dense") no key is skipped.
@cuda.jit
def _flag_nonfinite(a, flag):
    # one thread per element of a 3-D array: flag[0] = 1 if one is NaN or +-inf
    t = cuda.grid(1)
    B, R, C = a.shape
    if t < B * R * C and not math.isfinite(a[t // (R * C), (t // C) % R, t % C]):
        flag[0] = 1


def _any_nonfinite(*arrays):
    # a (1,) int32 device flag, read by the kernels themselves (no copy back to the host)
    flag = zeros((1,), np.int32)
    for a in arrays:
        _launch(_flag_nonfinite, a.size, a, flag)
    return flag


@cuda.jit(device=True)
def _nan_max(a, b):
    # max that keeps a NaN, as NumPy's max
    if a != a or b != b:
        return math.nan
    return max(a, b)


@cuda.jit(device=True)
def _dense_row(q, k, v, b, i, mask, mask_index, has_mask, is_causal, scale, key, dropout_p,
               inv_keep, out, rmax, rsum):
    # the reference's softmax for row (b, i) in three passes, no key skipped
    L, S, Ev = q.shape[1], k.shape[1], v.shape[2]
    m = -math.inf
    for j in range(S):                               # pass 1: the row max (NaN if a score is)
        m = _nan_max(m, _score(q, k, b, i, j, mask, mask_index, has_mask, is_causal, scale))
    if not math.isfinite(m):
        m = 0.0                                      # NaN, +inf, or a fully masked row
    l = 0.0
    for j in range(S):                               # pass 2: the row sum
        l += math.exp(_score(q, k, b, i, j, mask, mask_index, has_mask, is_causal, scale) - m)
    if not l > 0.0:
        l = 1.0                                      # 0 (fully masked) or NaN: divide by 1
    for e in range(Ev):
        out[b, i, e] = 0
    for j in range(S):                               # pass 3: out = sum_j p_j drop_j v_j
        s = _score(q, k, b, i, j, mask, mask_index, has_mask, is_causal, scale)
        wd = math.exp(s - m) / l * _keep(key, b, i, j, L, S, dropout_p, inv_keep)
        for e in range(Ev):
            out[b, i, e] = out[b, i, e] + wd * v[b, j, e]
    rmax[b, i] = m
    rsum[b, i] = l


@cuda.jit
def _fwd_v2(q, k, v, mask, mask_index, has_mask, is_causal, scale, key, dropout_p, inv_keep,
            dense, out, rmax, rsum):
    t = cuda.grid(1)
    B, L, Ev = out.shape
    S = k.shape[1]
    if t < B * L:
        b, i = t // L, t % L
        redo = dense[0] != 0                         # a NaN or inf in q, k or v: no skipping
        for e in range(Ev):
            out[b, i, e] = 0
        m = -math.inf                                # running max of the row's scores
        l = 0.0                                      # running sum of exp(s - m)
        for j in range(S):
            if redo:
                break
            s = _score(q, k, b, i, j, mask, mask_index, has_mask, is_causal, scale)
            if s != s or s == math.inf:
                redo = True                          # a NaN or +inf score (mask, overflow)
                break
            if s == -math.inf:
                continue                             # a masked key adds nothing
            if s > m:                                # a new max: rescale what came before
                alpha = math.exp(m - s)
                l *= alpha
                for e in range(Ev):
                    out[b, i, e] = out[b, i, e] * alpha
                m = s
            w = math.exp(s - m)
            l += w
            wd = w * _keep(key, b, i, j, L, S, dropout_p, inv_keep)
            if wd != 0.0:
                for e in range(Ev):
                    out[b, i, e] = out[b, i, e] + wd * v[b, j, e]
        if redo:
            _dense_row(q, k, v, b, i, mask, mask_index, has_mask, is_causal, scale, key,
                       dropout_p, inv_keep, out, rmax, rsum)
        elif l > 0.0:
            for e in range(Ev):
                out[b, i, e] = out[b, i, e] / l
            rmax[b, i] = m
            rsum[b, i] = l
        else:
            rmax[b, i] = 0.0                         # fully masked: out stays 0, p = exp(-inf) / 1
            rsum[b, i] = 1.0


@cuda.jit(device=True)
def _weight(q, k, b, i, j, mask, mask_index, has_mask, is_causal, scale, rmax, rsum):
    # p_ij recomputed as the reference's softmax gives it: exp(s - m) / l (0 for masked keys)
    s = _score(q, k, b, i, j, mask, mask_index, has_mask, is_causal, scale)
    return math.exp(s - rmax[b, i]) / rsum[b, i]


@cuda.jit
def _delta_v2(q, k, v, dout, out, mask, mask_index, has_mask, is_causal, scale, key, dropout_p,
              inv_keep, rmax, rsum, dense, delta):
    # D_i = sum_j p_ij dp_ij (dropout included) = dout_i . out_i when everything is finite;
    # dense: summed as the reference does, so NaN and inf come out where its sum gives them
    t = cuda.grid(1)
    B, L = delta.shape
    S = k.shape[1]
    if t < B * L:
        b, i = t // L, t % L
        if dense[0] == 0:
            delta[b, i] = _dot_rows(dout, b, i, out, i)
        else:
            d = 0.0
            for j in range(S):
                p = _weight(q, k, b, i, j, mask, mask_index, has_mask, is_causal, scale, rmax, rsum)
                d += p * _keep(key, b, i, j, L, S, dropout_p, inv_keep) * _dot_rows(dout, b, i, v, j)
            delta[b, i] = d


@cuda.jit
def _dq_v2(q, k, v, dout, mask, mask_index, has_mask, is_causal, scale, key, dropout_p,
           inv_keep, rmax, rsum, delta, dense, dq):
    # one thread per query row: dq_i = scale * sum_j p (drop dout_i . v_j - D_i) k_j
    t = cuda.grid(1)
    B, L, E = dq.shape
    S = k.shape[1]
    if t < B * L:
        b, i = t // L, t % L
        for e in range(E):
            dq[b, i, e] = 0
        for j in range(S):
            p = _weight(q, k, b, i, j, mask, mask_index, has_mask, is_causal, scale, rmax, rsum)
            if p != 0.0 or dense[0] != 0:            # dense: 0 * (NaN or inf) is NaN
                dp = _keep(key, b, i, j, L, S, dropout_p, inv_keep) * _dot_rows(dout, b, i, v, j)
                ds = p * (dp - delta[b, i]) * scale
                for e in range(E):
                    dq[b, i, e] = dq[b, i, e] + ds * k[b, j, e]


@cuda.jit
def _dkdv_v2(q, k, v, dout, mask, mask_index, has_mask, is_causal, scale, key, dropout_p,
             inv_keep, rmax, rsum, delta, dense, dk, dv):
    # one thread per key row j: dv_j = sum_i p drop dout_i; dk_j = scale * sum_i ds_ij q_i
    t = cuda.grid(1)
    B, S, E = dk.shape
    L, Ev = q.shape[1], v.shape[2]
    if t < B * S:
        b, j = t // S, t % S
        for e in range(E):
            dk[b, j, e] = 0
        for e in range(Ev):
            dv[b, j, e] = 0
        for i in range(L):
            p = _weight(q, k, b, i, j, mask, mask_index, has_mask, is_causal, scale, rmax, rsum)
            if p != 0.0 or dense[0] != 0:            # dense: 0 * (NaN or inf) is NaN
                keep = _keep(key, b, i, j, L, S, dropout_p, inv_keep)
                for e in range(Ev):
                    dv[b, j, e] = dv[b, j, e] + p * keep * dout[b, i, e]
                ds = p * (keep * _dot_rows(dout, b, i, v, j) - delta[b, i]) * scale
                for e in range(E):
                    dk[b, j, e] = dk[b, j, e] + ds * q[b, i, e]


def attention_forward_v2(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed):
    q, k, v = on_device(q), on_device(k), on_device(v)
    B, L, _ = q.shape
    Ev = v.shape[2]
    m, mi, has_mask = _mask_args(mask, mask_index, q.dtype)
    out = empty((B, L, Ev), q.dtype)
    rmax, rsum = empty((B, L), np.float64), empty((B, L), np.float64)
    args = (m, mi, has_mask, bool(is_causal), float(scale), seed_key(seed), float(dropout_p),
            1.0 / (1.0 - dropout_p))
    dense = _any_nonfinite(q, k, v)                                           # step 1: the rule
    _launch(_fwd_v2, B * L, q, k, v, *args, dense, out, rmax, rsum)           # step 2: the rows
    return out, (q, k, v, out, rmax, rsum, args)


def attention_backward_v2(dout, cache):
    q, k, v, out, rmax, rsum, args = cache
    dout = on_device(dout)
    B, L, _ = q.shape
    dense = _any_nonfinite(q, k, v, out, dout)                                # step 1: the rule
    delta = empty((B, L), np.float64)
    _launch(_delta_v2, B * L, q, k, v, dout, out, *args, rmax, rsum, dense, delta)   # step 2: D_i
    dq = empty(q.shape, q.dtype)
    _launch(_dq_v2, B * L, q, k, v, dout, *args, rmax, rsum, delta, dense, dq)       # step 3: dq
    dk, dv = empty(k.shape, q.dtype), empty(v.shape, q.dtype)
    _launch(_dkdv_v2, B * k.shape[1], q, k, v, dout, *args, rmax, rsum, delta, dense, dk, dv)  # step 4
    return dq, dk, dv


VERSIONS = {
    1: {"attention_forward": attention_forward_v1, "attention_backward": attention_backward_v1},
    2: {"attention_forward": attention_forward_v2, "attention_backward": attention_backward_v2},
}
DEFAULT = 2


def attention_forward(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed):
    return VERSIONS[active("cuda.attention", DEFAULT)]["attention_forward"](
        q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed)


def attention_backward(dout, cache):
    return VERSIONS[active("cuda.attention", DEFAULT)]["attention_backward"](dout, cache)
