"""Scaled dot-product attention on the CPU: the lesson plan.

Shapes (after tinydl/ops/attention.py flattened the batch dims): q (B, L, E), k (B, S, E),
v (B, S, Ev) -> out (B, L, Ev). mask is None or additive (Bm, Lm, Sm) with mask_index (B,).
Numbers: forward + backward at B = 8 batch x 4 heads, L = S = 256, E = Ev = 64, float32,
2 threads, measured by benchmarks/bench_attention.py side by side with torch's
scaled_dot_product_attention (16.0 ms there; the 2-core machine was shared with other jobs, so
expect +-20%); peak memory of one forward at B = 1, L = S = 4096, E = 64 (tracemalloc; the peak
RSS of a child process agrees within 10%).

v1  textbook: scores = q k^T for the whole (B, L, S) with one BLAS GEMM per batch entry
    (np.matmul), then a parallel Numba row kernel (scale, causal triangle, mask, a softmax that
    gives 0 for fully masked rows, dropout from a splitmix64 hash of the weight's index), then
    out = p v by BLAS. The backward keeps p (B, L, S) from the forward: four GEMMs and one row
    kernel. Memory grows like B*L*S.
    Measured: fwd+bwd 19.4 ms (0.82x torch's speed); forward peak 65 MiB at L = 4096.

v2  fused rows, online softmax (flash attention's idea without BLAS): one prange over the B*L
    query rows; each row walks the keys in blocks of 64, computes the block's scores, keeps a
    running maximum m and sum l, rescales its output accumulator by exp(m_old - m_new) when the
    maximum grows, and stores only out and the row's logsumexp. The full score matrix never
    exists: memory grows like L*E. The backward recomputes each row's weights from the
    logsumexp (prange over batch entries, each owning its dk, dv rows). Inner loops run along
    contiguous memory (k and v are transposed once, O(S*E)) so LLVM vectorizes them without
    fastmath, but they are dot products and axpys, not a register-blocked GEMM, and the
    backward's parallelism is only B wide. The lesson is memory, not speed:
    Measured: fwd+bwd 65 ms (0.25x torch's speed); forward peak 2.0 MiB at L = 4096.

v3  (the default) v1's arithmetic under a memory budget: when all B*L*S scores fit in CHUNK
    (2**21 elements, 8 MiB in float32) it is v1 (capability fallback: nothing to save); beyond
    that, query rows go in chunks of CHUNK // (B*S): one GEMM for the chunk's scores, the row
    kernel (which also writes the logsumexp), one GEMM for the chunk's output; only out and the
    logsumexp are kept, and the backward recomputes each chunk's scores (one extra GEMM) and
    accumulates dk, dv over the chunks. Memory is bounded by the budget plus O(L*E).
    Measured: fwd+bwd 19.5 ms (0.82x torch's speed, the v1 path); forward peak 17 MiB at
    L = 4096 (the budget's scores and the GEMM's output), against v1's 65 MiB.

v4  v3 with a row kernel whose exponentials vectorize (kernels/cpu/_attention_fastexp.py:
    exp(x) = exp(x/256)^256 by a degree-7 Taylor series and 8 squarings, no libm call), the
    v1 path's backward. At ViT-tiny's attention (B = 256, L = S = 65, E = 16), one core under
    load: forward 12.5-13.7 -> 7.8-8.0 ms (docs/kernels.md, "attention").

v5  v4 with its row kernels in branch-free passes where there is no mask and no dropout
    (kernels/cpu/_attention_plain.py: scale, causal, NaN count and a four-lane maximum as
    separate vectorizable loops; the backward's row sum in four lanes); v4 otherwise.
"""
import math

import numpy as np
from numba import njit, prange

from tinydl.kernels._versions import active
from tinydl.kernels.cpu import _attention_fastexp, _attention_plain
from tinydl.kernels.cpu import _attention_rows as rows
from tinydl.kernels.cpu._blas import bmm

CHUNK = 2**21  # v3: the score budget, elements (8 MiB in float32)
BLOCK = 64    # v2: keys per online-softmax block


def _mask_args(mask, mask_index, q):
    # Numba wants arrays of fixed types: a (1, 1, 1) placeholder stands for "no mask"
    if mask is None:
        return np.zeros((1, 1, 1), dtype=q.dtype), np.zeros(1, dtype=np.int64), False
    return mask, mask_index, True


def _all_finite(*arrays):
    # v2 skips masked keys and zero weights; with a NaN or inf input it must not (see _fused_forward)
    return all(bool(np.isfinite(a).all()) for a in arrays)


# ---- v1: textbook, the (B, L, S) scores materialized ------------------------------------------
def attention_forward_v1(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed):
    # q (B, L, E), k (B, S, E), v (B, S, Ev)
    B, L, _ = q.shape
    S = k.shape[1]
    m, mi, has_mask = _mask_args(mask, mask_index, q)
    # step 1: all scores at once, (B, L, S), by BLAS
    p = np.matmul(q, k.transpose(0, 2, 1))
    # step 2: scale, mask, softmax in place; the dropped-out weights in their own array
    want_pd = dropout_p > 0.0
    pd = np.empty_like(p) if want_pd else p
    lse = np.empty(B * L, dtype=q.dtype)
    rows.softmax_rows(p.reshape(B * L, S), L, 0, L, m, mi, has_mask, is_causal, scale,
                      dropout_p, rows.seed_key(seed), lse, p.reshape(B * L, S), pd.reshape(B * L, S), want_pd)
    # step 3: out = pd v (B, L, Ev)
    out = np.matmul(pd, v)
    return out, (1, (q, k, v, p, pd, dropout_p, seed, scale))


def attention_backward_v1(dout, cache):
    # dout (B, L, Ev) -> dq (B, L, E), dk (B, S, E), dv (B, S, Ev)
    q, k, v, p, pd, dropout_p, seed, scale = cache[1]
    B, L, S = p.shape

    def through_softmax(ds):     # through dropout and softmax, in place: ds = p * (dp - sum_j p dp)
        rows.softmax_backward_rows(p.reshape(B * L, S), ds.reshape(B * L, S), L, 0, L,
                                   dropout_p, rows.seed_key(seed), np.zeros(1, dtype=q.dtype), False)
    return _backward_kept(dout, q, k, v, pd, scale, through_softmax)


def _backward_kept(dout, q, k, v, pd, scale, through_softmax):
    # the backward of a forward that kept its (dropped-out) weights pd (B, L, S)
    # step 1: through out = pd v
    # (bmm: the batch's small products split over Numba's threads, kernels/cpu/_blas.py)
    dv = bmm(pd.transpose(0, 2, 1), dout)
    ds = bmm(dout, v.transpose(0, 2, 1))
    # step 2: through dropout and softmax
    through_softmax(ds)
    # step 3: through scores = q k^T * scale
    dq = bmm(ds, k)
    dq *= scale
    dk = bmm(ds.transpose(0, 2, 1), q)
    dk *= scale
    return dq, dk, dv


# ---- v2: fused rows with an online softmax, no score matrix -----------------------------------
@njit(cache=True)
def _nonfinite_row(q, kT, v, mask, mb, mi, has_mask, is_causal, scale, dropout_p, key, b, i, out, lse):
    # a row with a NaN or +inf score, as the reference computes it: its maximum is not finite,
    # so it is replaced by 0; p_j = exp(score_j) / total, or exp(score_j) if total is NaN
    _, L, E = q.shape
    S = kT.shape[2]
    Ev = v.shape[2]
    Sm = mask.shape[2]
    inv_keep = 1.0 / (1.0 - dropout_p) if dropout_p > 0.0 else 1.0
    acc = np.zeros(Ev, dtype=np.float64)
    total = 0.0
    for j in range(S):
        x = 0.0
        for e in range(E):
            x += q[b, i, e] * kT[b, e, j]
        x = x * scale
        if is_causal and j > i:
            x = -np.inf
        if has_mask:
            x = x + mask[mb, mi, j if Sm > 1 else 0]
        pj = math.exp(x)
        total += pj
        if dropout_p > 0.0:
            pj = pj * rows.keep_scale(key, (b * L + i) * S + j, dropout_p, inv_keep)
        for e in range(Ev):
            acc[e] += pj * v[b, j, e]
    inv = 1.0 / total if total > 0.0 else 1.0
    for e in range(Ev):
        out[b, i, e] = acc[e] * inv
    lse[b, i] = math.log(total) if total > 0.0 else (0.0 if total != total else np.inf)


@njit(cache=True, parallel=True)
def _fused_forward(q, kT, v, mask, mask_index, has_mask, is_causal, scale, dropout_p, key,
                   out, lse, dense):
    # dense (some input is NaN or inf): no key is skipped, masked ones take part with weight 0,
    # so 0 * inf gives NaN exactly where the reference's matrix products give it
    # q (B, L, E), kT (B, E, S), v (B, S, Ev) -> out (B, L, Ev), lse (B, L)
    B, L, E = q.shape
    S = kT.shape[2]
    Ev = v.shape[2]
    Lm, Sm = mask.shape[1], mask.shape[2]
    inv_keep = 1.0 / (1.0 - dropout_p) if dropout_p > 0.0 else 1.0
    for r in prange(B * L):
        b, i = r // L, r % L
        mb = mask_index[b] if has_mask else 0
        mi = i if Lm > 1 else 0
        sblk = np.empty(BLOCK, dtype=q.dtype)
        acc = np.zeros(Ev, dtype=q.dtype)
        m = -np.inf   # running maximum of the row's scores
        l = 0.0       # running sum of exp(score - m)
        jend = min(S, i + 1) if is_causal and not dense else S
        for j0 in range(0, jend, BLOCK):
            n = min(BLOCK, jend - j0)
            # step 1: the block's scores, vectorized along the keys
            for j in range(n):
                sblk[j] = 0.0
            for e in range(E):
                qe = q[b, i, e]
                for j in range(n):
                    sblk[j] += qe * kT[b, e, j0 + j]
            bmax = -np.inf
            for j in range(n):
                x = sblk[j] * scale
                if is_causal and j0 + j > i:
                    x = -np.inf
                if has_mask:
                    x = x + mask[mb, mi, (j0 + j) if Sm > 1 else 0]
                sblk[j] = x
                if x > bmax or x != x:
                    bmax = x if bmax == bmax else bmax
            if not bmax < np.inf:
                break      # a NaN or +inf score: the row is redone below, as the reference does
            if bmax == -np.inf:
                if dense:  # weight 0 times the values (NaN where a value is NaN or inf)
                    for j in range(n):
                        for e in range(Ev):
                            acc[e] += 0.0 * v[b, j0 + j, e]
                continue   # the whole block is masked
            # step 2: a larger maximum rescales what was summed so far
            m_new = max(m, bmax)
            corr = math.exp(m - m_new)
            l *= corr
            for e in range(Ev):
                acc[e] *= corr
            # step 3: add the block's weights (dropout on the numerator only) times the values
            base = (b * L + i) * S + j0
            for j in range(n):
                pj = math.exp(sblk[j] - m_new)
                l += pj
                w = pj
                if dropout_p > 0.0:
                    w = pj * rows.keep_scale(key, base + j, dropout_p, inv_keep)
                if w != 0.0 or dense:
                    for e in range(Ev):
                        acc[e] += w * v[b, j0 + j, e]
            m = m_new
        if not bmax < np.inf:
            _nonfinite_row(q, kT, v, mask, mb, mi, has_mask, is_causal, scale, dropout_p, key, b, i,
                           out, lse)
            continue
        # step 4: normalize; a fully masked row gives 0 and lse = +inf
        if l > 0.0:
            inv = 1.0 / l
            for e in range(Ev):
                out[b, i, e] = acc[e] * inv
            lse[b, i] = m + math.log(l)
        else:
            for e in range(Ev):
                out[b, i, e] = 0.0
            lse[b, i] = np.inf


@njit(cache=True, parallel=True)
def _fused_backward(q, k, kT, vT, dout, out, lse, mask, mask_index, has_mask, is_causal, scale,
                    dropout_p, key, dq, dk, dv, dense):
    # each thread owns whole batch entries b, so its dk[b], dv[b] need no locks
    B, L, E = q.shape
    S = k.shape[1]
    Ev = vT.shape[1]
    Lm, Sm = mask.shape[1], mask.shape[2]
    inv_keep = 1.0 / (1.0 - dropout_p) if dropout_p > 0.0 else 1.0
    for b in prange(B):
        prow = np.empty(S, dtype=q.dtype)
        dprow = np.empty(S, dtype=q.dtype)
        wrow = np.empty(S, dtype=q.dtype)
        mb = mask_index[b] if has_mask else 0
        for i in range(L):
            mi = i if Lm > 1 else 0   # a fully masked row (lse = +inf) recomputes p = 0
            jend = min(S, i + 1) if is_causal and not dense else S
            # step 1: the row's scores and dout_i . v_j
            for j in range(jend):
                prow[j] = 0.0
                dprow[j] = 0.0
            for e in range(E):
                qe = q[b, i, e]
                for j in range(jend):
                    prow[j] += qe * kT[b, e, j]
            for e in range(Ev):
                g = dout[b, i, e]
                for j in range(jend):
                    dprow[j] += g * vT[b, e, j]
            # step 2: recompute the weights p_j = exp(score_j - lse_i); dropout f_j on w and dp
            base = (b * L + i) * S
            for j in range(jend):
                x = prow[j] * scale
                if is_causal and j > i:
                    x = -np.inf
                if has_mask:
                    x = x + mask[mb, mi, j if Sm > 1 else 0]
                prow[j] = math.exp(x - lse[b, i])
                f = 1.0
                if dropout_p > 0.0:
                    f = rows.keep_scale(key, base + j, dropout_p, inv_keep)
                wrow[j] = prow[j] * f
                dprow[j] = dprow[j] * f
            # step 3: D = sum_j p dp (= dout_i . out_i; dense: summed as the reference does, so
            # NaN and inf come out where its sum gives them)
            d = 0.0
            if dense:
                for j in range(jend):
                    d += prow[j] * dprow[j]
            else:
                for e in range(Ev):
                    d += dout[b, i, e] * out[b, i, e]
            for j in range(jend):
                # step 4: dv_j += (p_j f) dout_i ; ds_j = p_j (f dp_j - D)
                w = wrow[j]
                if w != 0.0 or dense:
                    for e in range(Ev):
                        dv[b, j, e] += w * dout[b, i, e]
                c = prow[j] * (dprow[j] - d) * scale
                if c != 0.0 or dense:
                    # step 5: dk_j += c q_i ; dq_i += c k_j
                    for e in range(E):
                        dk[b, j, e] += c * q[b, i, e]
                    for e in range(E):
                        dq[b, i, e] += c * k[b, j, e]


def attention_forward_v2(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed):
    B, L, _ = q.shape
    m, mi, has_mask = _mask_args(mask, mask_index, q)
    kT = np.ascontiguousarray(k.transpose(0, 2, 1))   # (B, E, S): O(S*E), not O(L*S)
    out = np.empty((B, L, v.shape[2]), dtype=q.dtype)
    lse = np.empty((B, L), dtype=q.dtype)
    _fused_forward(q, kT, v, m, mi, has_mask, is_causal, scale, dropout_p, rows.seed_key(seed),
                   out, lse, not _all_finite(q, k, v))
    return out, (2, (q, k, v, out, lse, mask, mask_index, dropout_p, is_causal, scale, seed))


def attention_backward_v2(dout, cache):
    q, k, v, out, lse, mask, mask_index, dropout_p, is_causal, scale, seed = cache[1]
    m, mi, has_mask = _mask_args(mask, mask_index, q)
    kT = np.ascontiguousarray(k.transpose(0, 2, 1))
    vT = np.ascontiguousarray(v.transpose(0, 2, 1))
    dq, dk, dv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    _fused_backward(q, k, kT, vT, dout, out, lse, m, mi, has_mask, is_causal, scale,
                    dropout_p, rows.seed_key(seed), dq, dk, dv, not _all_finite(q, k, v, dout))
    return dq, dk, dv


# ---- v3: chunks of query rows, BLAS for the products, only the logsumexp kept ----------------
def _chunk_rows(B, L, S):
    # query rows per chunk: B * rows * S scores stay within the CHUNK budget
    return max(1, min(L, CHUNK // (B * S)))


def attention_forward_v3(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed):
    B, L, _ = q.shape
    S = k.shape[1]
    if B * L * S <= CHUNK:
        # capability fallback: all the scores fit in the budget, so keep them (v1, no recompute)
        return attention_forward_v1(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed)
    m, mi, has_mask = _mask_args(mask, mask_index, q)
    out = np.empty((B, L, v.shape[2]), dtype=q.dtype)
    lse = np.empty((B, L), dtype=q.dtype)
    want_pd = dropout_p > 0.0
    R = _chunk_rows(B, L, S)
    kT = k.transpose(0, 2, 1)
    for i0 in range(0, L, R):
        i1 = min(L, i0 + R)
        Rc = i1 - i0
        # step 1: the chunk's scores (B, Rc, S) by BLAS
        s = np.matmul(q[:, i0:i1], kT)
        # step 2: softmax in place (and its logsumexp), the dropped-out copy if any
        pd = np.empty_like(s) if want_pd else s
        lse_c = np.empty(B * Rc, dtype=q.dtype)
        rows.softmax_rows(s.reshape(B * Rc, S), Rc, i0, L, m, mi, has_mask, is_causal, scale,
                          dropout_p, rows.seed_key(seed), lse_c, s.reshape(B * Rc, S), pd.reshape(B * Rc, S),
                          want_pd)
        lse[:, i0:i1] = lse_c.reshape(B, Rc)
        # step 3: the chunk's output by BLAS
        out[:, i0:i1] = np.matmul(pd, v)
    return out, (3, (q, k, v, out, lse, mask, mask_index, dropout_p, is_causal, scale, seed))


def attention_backward_v3(dout, cache):
    if cache[0] == 1:   # the forward's capability fallback kept v1's scores
        return attention_backward_v1(dout, cache)
    q, k, v, out, lse, mask, mask_index, dropout_p, is_causal, scale, seed = cache[1]
    B, L, _ = q.shape
    S = k.shape[1]
    m, mi, has_mask = _mask_args(mask, mask_index, q)
    dq = np.empty_like(q)
    dk, dv = np.zeros_like(k), np.zeros_like(v)
    want_pd = dropout_p > 0.0
    R = _chunk_rows(B, L, S)
    kT, vT = k.transpose(0, 2, 1), v.transpose(0, 2, 1)
    for i0 in range(0, L, R):
        i1 = min(L, i0 + R)
        Rc = i1 - i0
        # step 1: recompute the chunk's weights from the scores and the logsumexp
        s = np.matmul(q[:, i0:i1], kT)
        pd = np.empty_like(s) if want_pd else s
        s2 = s.reshape(B * Rc, S)
        rows.recompute_rows(s2, Rc, i0, L, m, mi, has_mask, is_causal, scale,
                            np.ascontiguousarray(lse[:, i0:i1]).reshape(B * Rc), s2,
                            dropout_p, rows.seed_key(seed), pd.reshape(B * Rc, S), want_pd)
        # step 2: through out = pd v
        dout_c = dout[:, i0:i1]
        dv += np.matmul(pd.transpose(0, 2, 1), dout_c)
        ds = np.matmul(dout_c, vT)
        # step 3: through dropout and softmax (D = dout . out), in place
        delta = rows.row_dots(np.ascontiguousarray(dout_c).reshape(B * Rc, -1),
                              np.ascontiguousarray(out[:, i0:i1]).reshape(B * Rc, -1))
        rows.softmax_backward_rows(s2, ds.reshape(B * Rc, S), Rc, i0, L, dropout_p, rows.seed_key(seed),
                                   delta, True)
        # step 4: through scores = q k^T * scale
        dq[:, i0:i1] = np.matmul(ds, k)
        dk += np.matmul(ds.transpose(0, 2, 1), q[:, i0:i1])
    dq *= scale
    dk *= scale
    return dq, dk, dv


def attention_forward_v4(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed):
    B, L, _ = q.shape
    if B * L * k.shape[1] > CHUNK:
        return attention_forward_v3(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed)
    out, kept = _attention_fastexp.forward_v4(q, k, v, _mask_args(mask, mask_index, q), dropout_p,
                                              is_causal, scale, seed)
    return out, (4, kept)      # v1's cache layout: v4's backward is v1's


def attention_backward_v4(dout, cache):
    # past the budget the forward was v3's, and so is its cache
    return attention_backward_v3(dout, cache) if cache[0] == 3 else attention_backward_v1(dout, cache)


def attention_forward_v5(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed):
    B, L, _ = q.shape
    S = k.shape[1]
    if mask is not None or dropout_p > 0.0 or B * L * S > CHUNK:
        return attention_forward_v4(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed)
    p = bmm(q, k.transpose(0, 2, 1))                             # (B, L, S), on Numba's threads
    p2 = p.reshape(B * L, S)
    lse = np.empty(B * L, dtype=q.dtype)
    _attention_plain.softmax_rows(p2, L, is_causal, scale, lse, p2, np.ones(S, dtype=q.dtype))
    return bmm(p, v), (5, (q, k, v, p, scale))


def attention_backward_v5(dout, cache):
    if cache[0] != 5:   # the forward fell back to v4 (or past the budget, v3)
        return attention_backward_v4(dout, cache)
    q, k, v, p, scale = cache[1]
    B, L, S = p.shape
    return _backward_kept(dout, q, k, v, p, scale,
                          lambda ds: _attention_plain.softmax_backward_rows(p.reshape(B * L, S),
                                                                            ds.reshape(B * L, S)))


VERSIONS = {
    1: {"attention_forward": attention_forward_v1, "attention_backward": attention_backward_v1},
    2: {"attention_forward": attention_forward_v2, "attention_backward": attention_backward_v2},
    3: {"attention_forward": attention_forward_v3, "attention_backward": attention_backward_v3},
    4: {"attention_forward": attention_forward_v4, "attention_backward": attention_backward_v4},
    5: {"attention_forward": attention_forward_v5, "attention_backward": attention_backward_v5},
}
DEFAULT = 5   # the fastest correct version (ViT-tiny attention fwd 8.45 -> 6.63 ms, bwd 10.8 -> 9.9 against v4)


def attention_forward(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed):
    fn = VERSIONS[active("cpu.attention", DEFAULT)]["attention_forward"]
    return fn(q, k, v, mask, mask_index, dropout_p, is_causal, scale, seed)


def attention_backward(dout, cache):
    # the cache names the version that made it, so a version switch in between cannot mix them
    return VERSIONS[cache[0]]["attention_backward"](dout, cache)
