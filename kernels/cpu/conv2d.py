"""2-D convolution on the CPU: the ladder from a loop nest to BLAS.

Numbers: the reference CNN's four conv layers at batch 128 (float32, 3x3, "same"; 45 GFLOP for
forward + backward of all four), summed, from benchmarks/bench_conv.py. The machine is a shared
2-core AMD EPYC (AVX-512) that other jobs kept at load 10-40, so the robust numbers are per-core
CPU time with one thread (--clock cpu, NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1; numpy sgemm
238 GFLOP/s on one core); docs/kernels.md also has the 2-thread wall-clock table. PyTorch 2.13
(oneDNN) on one core: 245 ms, 183 GFLOP/s.

v1  direct loop nest, one thread. Seven nested loops, exactly the formula; the innermost loop
    runs over the filter taps (c, p, q), so every output is one dot product read with long
    strides. 14.6 s (3 GFLOP/s, 60x PyTorch).

v2  direct loops, parallel and reordered. prange over (image, filter) pairs; inside, the loop over
    the output row's pixels j is innermost, so for stride 1 it streams through contiguous memory
    and each weight is loaded once per output plane; the backward is three parallel nests (db,
    dw per filter, dx per input plane). 13.7 s on one core: barely better, because the rows are
    only 4..32 pixels long, too short for the vectorized inner loop to pay.

v3  im2col + BLAS, one image at a time. Each image's windows are unrolled into a matrix
    cols (C*KH*KW, OH*OW) (kernels/cpu/_im2col.py, parallel over rows), and the convolution is
    one sgemm w (F, C*KH*KW) @ cols per image through SciPy's BLAS (kernels/cpu/_blas.py: every
    conv GEMM goes there; BLAS threads, outside any prange).
    Backward: dw += dout_n @ cols^T, dcols = w^T @ dout_n, col2im. 394 ms on one core (114
    GFLOP/s, 35x v1). With two threads it collapses (seconds per layer): 128 hand-offs per layer
    between Numba's OpenMP pool and OpenBLAS's threads, which spin-wait on the same two cores.

v4  im2col + ONE sgemm for the whole batch, workspaces reused. cols spans the batch,
    (C*KH*KW, N*OH*OW), so every layer becomes one fat GEMM; the (F, N*P) result is transposed
    to (N, F, P) in a parallel pass that also adds the bias. The backward transposes dout once
    (summing db on the way), computes dw with the longer output side as the GEMM's rows
    (OpenBLAS measured 150 vs 8 GFLOP/s for the two orientations at conv2), then overwrites the
    same workspace with dcols = w^T dout^T before col2im: one buffer serves both. Buffers live in
    a per-thread workspace grown on demand; every returned array is still fresh. 359 ms on one
    core (125 GFLOP/s, 52% of sgemm; 1.47x PyTorch's time). The fewest hand-offs between thread
    pools: the most robust version on a busy machine.

v5  v4 in chunks of images. The batch is cut into chunks of about 4096 output pixels (more with
    few taps: _conv_common.chunks), and
    each chunk runs im2col -> GEMM -> transpose (backward: transpose -> im2col -> dw GEMM ->
    dcols GEMM -> col2im) before the next, so the chunk's cols (a few MB instead of 75 MB at
    conv2) is still in cache when the GEMM reads it, and the scratch memory no longer grows with
    the batch. 341 ms on one core (5% under v4). With two threads at load 25 its 16-64 hand-offs
    per layer made it up to 2x slower than v4; once OpenBLAS's workers stopped spinning
    (OPENBLAS_THREAD_TIMEOUT, tinydl/_threads.py) and on a quiet machine it is the fastest on
    every layer of the reference CNN (two threads: 171 vs 189 ms for the four convs' forward +
    backward; the whole step 222 vs 240 ms), so it is the default.

v6  Winograd F(2x2, 3x3) (kernels/cpu/_winograd.py) for 3x3 stride-1 layers with at least
    WINOGRAD_MIN_CHANNELS input and output channels: the forward, and dx as the same transform of
    dout with the flipped, transposed kernel, do 2.25x fewer multiplies as 16 batched GEMMs
    (F, C) @ (C, tiles); dw and db stay v4's im2col GEMM; other layers fall back to v4. The GEMMs
    shrink (conv2 forward: 14 ms instead of ~30) but the input/output transforms, memory-bound
    Numba loops, cost about as much: 368 ms on one core against v4's 362 in the same run (the
    forward alone is 10-15% faster, dx slower). Honest result: a wash at these sizes.

v7  no layout round trip (kernels/cpu/_conv_nchw.py): im2col per image, cols (n, CKK, P), so
    each image's GEMM w @ cols[n] writes straight into its NCHW block out[n] (bias added while it
    is in cache), and the backward reads dout[n] as it is (dw += dout[n] @ cols[n]^T, dcols[n] =
    w^T @ dout[n]): the two transpose passes of v4/v5 are gone. Stride-1 im2col/col2im copy
    unit-stride slices indexed from 0 (no negative-index wraparound test, so they vectorize).
    v5 where the output is smaller than MIN_PIXELS per image (skinny per-image GEMMs: at the seed CNN's 8x8 layer v7 measured 101/265 ms against v5's 84-91/176-191). One
    core, under load (ratios only), fwd/bwd ms: small CNN conv1 1.8/4.2 vs v5's 2.4/5.1-6.4;
    seed conv1 (3->64 @32) 19-25/41-50 vs 27/56.

v8  v7 plus a direct kernel for filters of at most DIRECT_MAX_TAPS taps (C*KH*KW <= 27, a first
    layer): axpys of shifted input rows per output plane, no im2col matrix. Honest result: slower
    than v7 where it applies (small CNN conv1, one core: 2.9/6.0 vs 1.8/4.1 ms): rows of 28
    pixels are too short for the per-row loop overhead; the way on is register blocking over
    several filters per input row load.

v9  v7 with v6's Winograd finished (kernels/cpu/_winograd_tiled.py) for the forward of 3x3
    stride-1 layers with at least WINOGRAD_MIN_CHANNELS channels each way and
    WINOGRAD_MIN_PIXELS outputs per image: blocks of 64 tiles, each transformed, multiplied (16
    single-threaded GEMMs) and transformed back by one thread while it is in cache, with
    unit-stride transforms. Two threads, float32, fwd ms against v7 (median of 9, same run):
    64->128 @16 batch 128: 12.3 vs 28.3; 64->64 @32 batch 64: 14.8 vs 22.5; the small CNN's
    16->32 @14: 0.95 vs 1.39; but 128->256 @8: 23.0 vs 23.3 and 256->512 @4: 27-31 vs 17-20,
    where re-reading the transformed filters (16*F*C values) for every block of few tiles
    outweighs the saved multiplies: there, and for the backward, v9 is v7.

PARAMS_ONLY (v5, v7, v9): the backward without dx (no dcols GEMM, no col2im), for a layer whose
input needs no gradient: the first convolution of a model in a training step.
"""
import functools
import threading

import numpy as np
from numba import njit, prange

from tinydl.kernels._relu_after import composed, masked
from tinydl.kernels._versions import active
from tinydl.kernels.cpu import _conv_nchw, _winograd, _winograd_tiled, activations
from tinydl.kernels.cpu._blas import gemm, gemm_into
from tinydl.kernels.cpu._conv_common import chunks as _chunks
from tinydl.kernels.cpu._conv_common import out_size as _out_size
from tinydl.kernels.cpu._conv_common import sum_db as _sum_db
from tinydl.kernels.cpu._im2col import col2im, im2col


def _bias_or_zeros(b, w):
    return b if b is not None else np.zeros(w.shape[0], dtype=w.dtype)


@njit(cache=True)
def _pad(x, pt, pb, pl, pr):
    # x (N, C, H, W) -> a fresh zero-padded copy (N, C, H+pt+pb, W+pl+pr)
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + pt + pb, W + pl + pr), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for h in range(H):
                for w_ in range(W):
                    xp[n, c, h + pt, w_ + pl] = x[n, c, h, w_]
    return xp


@njit(cache=True)
def _crop(xp, pt, pl, H, W):
    N, C = xp.shape[0], xp.shape[1]
    out = np.empty((N, C, H, W), dtype=xp.dtype)
    for n in range(N):
        for c in range(C):
            for h in range(H):
                for w_ in range(W):
                    out[n, c, h, w_] = xp[n, c, h + pt, w_ + pl]
    return out


# -- v1: direct loop nest, one thread ------------------------------------------------------------
@njit(cache=True)
def _fwd_v1(xp, w, b, sh, sw, OH, OW):
    # xp (N, C, Hp, Wp) padded input, w (F, C, KH, KW), b (F,) -> out (N, F, OH, OW)
    N, C = xp.shape[0], xp.shape[1]
    F, _, KH, KW = w.shape
    out = np.empty((N, F, OH, OW), dtype=xp.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    acc = b[f]
                    for c in range(C):
                        for p in range(KH):
                            for q in range(KW):
                                acc += xp[n, c, i * sh + p, j * sw + q] * w[f, c, p, q]
                    out[n, f, i, j] = acc
    return out


@njit(cache=True)
def _bwd_v1(dout, xp, w, sh, sw):
    # dout (N, F, OH, OW) -> dxp (padded, like xp), dw (F, C, KH, KW), db (F,)
    N, F, OH, OW = dout.shape
    _, C, KH, KW = w.shape
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = np.zeros(F, dtype=w.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    g = dout[n, f, i, j]
                    db[f] += g
                    for c in range(C):
                        for p in range(KH):
                            for q in range(KW):
                                dw[f, c, p, q] += g * xp[n, c, i * sh + p, j * sw + q]
                                dxp[n, c, i * sh + p, j * sw + q] += g * w[f, c, p, q]
    return dxp, dw, db


def conv2d_forward_v1(x, w, b, stride, padding):
    OH, OW = _out_size(x.shape, w.shape, stride, padding)
    xp = _pad(x, *padding)
    out = _fwd_v1(xp, w, _bias_or_zeros(b, w), stride[0], stride[1], OH, OW)
    return out, (x, w, b is not None, stride, padding)


def conv2d_backward_v1(dout, cache):
    x, w, has_bias, stride, padding = cache
    dxp, dw, db = _bwd_v1(dout, _pad(x, *padding), w, stride[0], stride[1])
    dx = _crop(dxp, padding[0], padding[2], x.shape[2], x.shape[3])
    return dx, dw, (db if has_bias else None)


# -- v2: direct loops, parallel, pixel loop innermost ---------------------------------------------
@njit(parallel=True, cache=True)
def _fwd_v2(xp, w, b, sh, sw, OH, OW):
    N, C = xp.shape[0], xp.shape[1]
    F, _, KH, KW = w.shape
    out = np.empty((N, F, OH, OW), dtype=xp.dtype)
    for t in prange(N * F):                      # one output plane per task
        n = t // F
        f = t % F
        o = out[n, f]
        o[:, :] = b[f]
        for c in range(C):
            for p in range(KH):
                for q in range(KW):
                    wv = w[f, c, p, q]
                    for i in range(OH):
                        row = i * sh + p
                        for j in range(OW):      # contiguous for stride 1: vectorizes
                            o[i, j] += wv * xp[n, c, row, j * sw + q]
    return out


@njit(parallel=True, cache=True)
def _bwd_v2(dout, xp, w, sh, sw):
    N, F, OH, OW = dout.shape
    _, C, KH, KW = w.shape
    # step 1: db[f] = sum over n, i, j
    db = np.zeros(F, dtype=w.dtype)
    for f in prange(F):
        acc = 0.0
        for n in range(N):
            for i in range(OH):
                for j in range(OW):
                    acc += dout[n, f, i, j]
        db[f] = acc
    # step 2: dw[f, c, p, q] = sum_{n,i,j} dout[n, f, i, j] * xp[n, c, i*sh+p, j*sw+q]; one filter per task
    dw = np.empty_like(w)
    for f in prange(F):
        for c in range(C):
            for p in range(KH):
                for q in range(KW):
                    acc = 0.0
                    for n in range(N):
                        for i in range(OH):
                            row = i * sh + p
                            for j in range(OW):
                                acc += dout[n, f, i, j] * xp[n, c, row, j * sw + q]
                    dw[f, c, p, q] = acc
    # step 3: dxp[n, c] += dout[n, f] * w[f, c, p, q] shifted; one input plane per task
    dxp = np.zeros_like(xp)
    for t in prange(N * C):
        n = t // C
        c = t % C
        for f in range(F):
            for p in range(KH):
                for q in range(KW):
                    wv = w[f, c, p, q]
                    for i in range(OH):
                        row = i * sh + p
                        for j in range(OW):
                            dxp[n, c, row, j * sw + q] += wv * dout[n, f, i, j]
    return dxp, dw, db


def conv2d_forward_v2(x, w, b, stride, padding):
    OH, OW = _out_size(x.shape, w.shape, stride, padding)
    out = _fwd_v2(_pad(x, *padding), w, _bias_or_zeros(b, w), stride[0], stride[1], OH, OW)
    return out, (x, w, b is not None, stride, padding)


def conv2d_backward_v2(dout, cache):
    x, w, has_bias, stride, padding = cache
    dxp, dw, db = _bwd_v2(dout, _pad(x, *padding), w, stride[0], stride[1])
    dx = _crop(dxp, padding[0], padding[2], x.shape[2], x.shape[3])
    return dx, dw, (db if has_bias else None)


# -- v3: im2col + one sgemm per image --------------------------------------------------------------
@njit(parallel=True, cache=True)
def _add_bias(out, b):
    # out (N, F, P) += b[f]
    N, F, P = out.shape
    for t in prange(N * F):
        n = t // F
        f = t % F
        for k in range(P):
            out[n, f, k] += b[f]


def conv2d_forward_v3(x, w, b, stride, padding):
    N = x.shape[0]
    F, C, KH, KW = w.shape
    OH, OW = _out_size(x.shape, w.shape, stride, padding)
    w2 = w.reshape(F, C * KH * KW)
    cols = np.empty((C * KH * KW, OH * OW), dtype=x.dtype)
    out = np.empty((N, F, OH * OW), dtype=x.dtype)
    for n in range(N):
        im2col(x[n:n + 1], KH, KW, stride[0], stride[1], padding[0], padding[2], OH, OW, cols)
        gemm_into(w2, cols, out[n])              # (F, CKK) @ (CKK, P) -> (F, P)
    if b is not None:
        _add_bias(out, b)
    return out.reshape(N, F, OH, OW), (x, w, b is not None, stride, padding)


def conv2d_backward_v3(dout, cache):
    x, w, has_bias, stride, padding = cache
    N = x.shape[0]
    F, C, KH, KW = w.shape
    OH, OW = dout.shape[2], dout.shape[3]
    sh, sw = stride
    pt, pl = padding[0], padding[2]
    d3 = dout.reshape(N, F, OH * OW)
    w2 = w.reshape(F, C * KH * KW)
    cols = np.empty((C * KH * KW, OH * OW), dtype=x.dtype)
    dcols = np.empty_like(cols)
    dw = np.zeros((F, C * KH * KW), dtype=x.dtype)
    dx = np.zeros_like(x)
    for n in range(N):
        im2col(x[n:n + 1], KH, KW, sh, sw, pt, pl, OH, OW, cols)
        dw += gemm(d3[n], cols.T)                # (F, P) @ (P, CKK)
        gemm_into(w2.T, d3[n], dcols)            # (CKK, F) @ (F, P)
        col2im(dcols, KH, KW, sh, sw, pt, pl, OH, OW, dx[n:n + 1])
    db = _sum_db(d3) if has_bias else None
    return dx, dw.reshape(w.shape), db


# -- v4: im2col over the whole batch + one sgemm, reused workspaces -------------------------------
# one set of scratch buffers per thread: two threads running convolutions at once must not
# write into each other's columns (each thread reuses its own buffers from call to call)
_workspace = threading.local()


def _buffers() -> dict:
    store = getattr(_workspace, "buffers", None)
    if store is None:
        store = _workspace.buffers = {}
    return store


def _buffer(slot, shape, dtype):
    """A reusable scratch array of ``shape`` owned by the calling thread (never returned to the
    caller)."""
    size = int(np.prod(shape))
    key = (slot, np.dtype(dtype))
    store = _buffers()
    buf = store.get(key)
    if buf is None or buf.size < size:
        buf = np.empty(size, dtype=dtype)
        store[key] = buf
    return buf[:size].reshape(shape)


def release_workspace():
    """Free the calling thread's scratch buffers (they are otherwise kept for its next call)."""
    _buffers().clear()


@njit(parallel=True, cache=True)
def _fp_to_nfp_bias(y, b, out):
    # y (F, N*P) -> out (N, F, P) with the bias added
    N, F, P = out.shape
    for t in prange(N * F):
        n = t // F
        f = t % F
        bf = b[f]
        for k in range(P):
            out[n, f, k] = y[f, n * P + k] + bf


@njit(parallel=True, cache=True)
def _nfp_to_fp_db(dout, y, db):
    # dout (N, F, P) -> y (F, N*P), and db[f] = the sum of row f
    N, F, P = dout.shape
    for f in prange(F):
        acc = 0.0
        for n in range(N):
            for k in range(P):
                v = dout[n, f, k]
                y[f, n * P + k] = v
                acc += v
        db[f] = acc


def conv2d_forward_v4(x, w, b, stride, padding):
    N = x.shape[0]
    F, C, KH, KW = w.shape
    OH, OW = _out_size(x.shape, w.shape, stride, padding)
    P = OH * OW
    cols = _buffer("cols", (C * KH * KW, N * P), x.dtype)
    im2col(x, KH, KW, stride[0], stride[1], padding[0], padding[2], OH, OW, cols)
    y = _buffer("y", (F, N * P), x.dtype)
    gemm_into(w.reshape(F, C * KH * KW), cols, y)   # the one big GEMM
    out = np.empty((N, F, P), dtype=x.dtype)
    _fp_to_nfp_bias(y, _bias_or_zeros(b, w), out)
    return out.reshape(N, F, OH, OW), (x, w, b is not None, stride, padding)


def conv2d_backward_v4(dout, cache):
    x, w, has_bias, stride, padding = cache
    N = x.shape[0]
    F, C, KH, KW = w.shape
    OH, OW = dout.shape[2], dout.shape[3]
    P = OH * OW
    sh, sw = stride
    pt, pl = padding[0], padding[2]
    # step 1: dout to (F, N*P), db on the way
    y = _buffer("y", (F, N * P), x.dtype)
    db = np.empty(F, dtype=x.dtype)
    _nfp_to_fp_db(dout.reshape(N, F, P), y, db)
    # step 2: dw = dout^T @ cols^T (cols recomputed: cheaper than keeping it per layer)
    cols = _buffer("cols", (C * KH * KW, N * P), x.dtype)
    im2col(x, KH, KW, sh, sw, pt, pl, OH, OW, cols)
    if C * KH * KW >= F:
        # OpenBLAS is far faster (measured 150 vs 8 GFLOP/s at conv2) when the longer of the two
        # output sides is the GEMM's row side: form dw^T (CKK, F), then transpose the small result
        dw = np.ascontiguousarray(gemm(cols, y.T).T)       # (CKK, N*P) @ (N*P, F)
    else:
        dw = gemm(y, cols.T)                              # (F, N*P) @ (N*P, CKK)
    # step 3: dcols = w^T @ dout^T into the same buffer, then col2im
    gemm_into(w.reshape(F, C * KH * KW).T, y, cols)
    dx = np.zeros_like(x)
    col2im(cols, KH, KW, sh, sw, pt, pl, OH, OW, dx)
    return dx, dw.reshape(w.shape), (db if has_bias else None)


# -- v5: v4 chunk by chunk of images (_conv_common.chunks) ---------------------------------------


def conv2d_forward_v5(x, w, b, stride, padding):
    N = x.shape[0]
    F, C, KH, KW = w.shape
    OH, OW = _out_size(x.shape, w.shape, stride, padding)
    P = OH * OW
    w2 = w.reshape(F, C * KH * KW)
    bias = _bias_or_zeros(b, w)
    out = np.empty((N, F, P), dtype=x.dtype)
    for n0, n1 in _chunks(N, P, C * KH * KW):
        cols = _buffer("cols", (C * KH * KW, (n1 - n0) * P), x.dtype)
        im2col(x[n0:n1], KH, KW, stride[0], stride[1], padding[0], padding[2], OH, OW, cols)
        y = _buffer("y", (F, (n1 - n0) * P), x.dtype)
        gemm_into(w2, cols, y)
        _fp_to_nfp_bias(y, bias, out[n0:n1])
    return out.reshape(N, F, OH, OW), (x, w, b is not None, stride, padding)


def conv2d_backward_v5(dout, cache):
    return _backward_v5(dout, cache, True)


def _backward_v5(dout, cache, need_dx):
    x, w, has_bias, stride, padding = cache
    N = x.shape[0]
    F, C, KH, KW = w.shape
    CKK = C * KH * KW
    OH, OW = dout.shape[2], dout.shape[3]
    P = OH * OW
    sh, sw = stride
    pt, pl = padding[0], padding[2]
    d3 = dout.reshape(N, F, P)
    w2 = w.reshape(F, CKK)
    tall = CKK >= F                 # the GEMM orientation v4 measured to be fast
    dw = np.zeros((CKK, F) if tall else (F, CKK), dtype=x.dtype)
    db = np.zeros(F, dtype=x.dtype)
    db_part = np.empty(F, dtype=x.dtype)
    dx = np.zeros_like(x) if need_dx else None
    for n0, n1 in _chunks(N, P, CKK):
        y = _buffer("y", (F, (n1 - n0) * P), x.dtype)
        _nfp_to_fp_db(d3[n0:n1], y, db_part)
        db += db_part
        cols = _buffer("cols", (CKK, (n1 - n0) * P), x.dtype)
        im2col(x[n0:n1], KH, KW, sh, sw, pt, pl, OH, OW, cols)
        dw += gemm(cols, y.T) if tall else gemm(y, cols.T)
        if need_dx:
            gemm_into(w2.T, y, cols)
            col2im(cols, KH, KW, sh, sw, pt, pl, OH, OW, dx[n0:n1])
    dw = np.ascontiguousarray(dw.T) if tall else dw
    return dx, dw.reshape(w.shape), (db if has_bias else None)


def conv2d_backward_params_v5(dout, cache):
    """dw, db only (the input needs no gradient): no dcols GEMM, no col2im."""
    return _backward_v5(dout, cache, False)[1:]


# -- v6: Winograd F(2x2, 3x3) for 3x3 stride 1, v4 elsewhere -----------------------------------
WINOGRAD_MIN_CHANNELS = 16


def _winograd_fits(w, stride, padding):
    F, C, KH, KW = w.shape
    return (KH, KW) == (3, 3) and tuple(stride) == (1, 1) and min(C, F) >= WINOGRAD_MIN_CHANNELS \
        and max(padding) <= 2


def conv2d_forward_v6(x, w, b, stride, padding):
    if not _winograd_fits(w, stride, padding):
        return conv2d_forward_v4(x, w, b, stride, padding)
    out = _winograd.conv3x3(x, w, _bias_or_zeros(b, w), padding, _buffer)
    return out, (x, w, b is not None, stride, padding)


def conv2d_backward_v6(dout, cache):
    x, w, has_bias, stride, padding = cache
    if not _winograd_fits(w, stride, padding):
        return conv2d_backward_v4(dout, cache)
    N, C, H, W = x.shape
    F = w.shape[0]
    OH, OW = dout.shape[2], dout.shape[3]
    P = OH * OW
    pt, pb, pl, pr = padding
    # step 1: dx is the full correlation of dout with the flipped kernel, channels swapped:
    # dout padded by 2 - pt on top (and what reaches row H-1 at the bottom), cropped to (H, W)
    w_flip = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))   # (C, F, 3, 3)
    dpad = (2 - pt, H - OH + pt, 2 - pl, W - OW + pl)
    dx = _winograd.conv3x3(dout, w_flip, np.zeros(C, dtype=x.dtype), dpad, _buffer)
    # step 2: dw, db as in v4
    y = _buffer("y", (F, N * P), x.dtype)
    db = np.empty(F, dtype=x.dtype)
    _nfp_to_fp_db(dout.reshape(N, F, P), y, db)
    cols = _buffer("cols", (C * 9, N * P), x.dtype)
    im2col(x, 3, 3, 1, 1, pt, pl, OH, OW, cols)
    dw = np.ascontiguousarray(gemm(cols, y.T).T) if C * 9 >= F else gemm(y, cols.T)
    return dx, dw.reshape(w.shape), (db if has_bias else None)


# -- v9: v7, with Winograd in blocks of tiles where it fits and pays ---------------------------
WINOGRAD_MIN_PIXELS = 196    # output pixels per image: won at 14x14 and up, lost at 8x8 and 4x4


def _winograd_pays(x, w, stride, padding):
    OH, OW = _out_size(x.shape, w.shape, stride, padding)
    return _winograd_fits(w, stride, padding) and OH * OW >= WINOGRAD_MIN_PIXELS


def conv2d_forward_v9(x, w, b, stride, padding):
    return _forward_v9(x, w, b, stride, padding, relu=False)


def _forward_v9(x, w, b, stride, padding, relu):
    # relu: the conv's ReLU, applied in the output transform (conv2d_relu's fused forward)
    if not _winograd_pays(x, w, stride, padding):
        return _conv_nchw.forward_v7_or_v5(x, w, b, stride, padding, relu)
    out = _winograd_tiled.conv3x3(x, w, _bias_or_zeros(b, w), padding, relu)
    return out, (x, w, b is not None, stride, padding)


# -- dispatch -------------------------------------------------------------------------------------
VERSIONS = {
    1: {"conv2d_forward": conv2d_forward_v1, "conv2d_backward": conv2d_backward_v1},
    2: {"conv2d_forward": conv2d_forward_v2, "conv2d_backward": conv2d_backward_v2},
    3: {"conv2d_forward": conv2d_forward_v3, "conv2d_backward": conv2d_backward_v3},
    4: {"conv2d_forward": conv2d_forward_v4, "conv2d_backward": conv2d_backward_v4},
    5: {"conv2d_forward": conv2d_forward_v5, "conv2d_backward": conv2d_backward_v5},
    6: {"conv2d_forward": conv2d_forward_v6, "conv2d_backward": conv2d_backward_v6},
    7: {"conv2d_forward": _conv_nchw.conv2d_forward_v7, "conv2d_backward": _conv_nchw.conv2d_backward_v7},
    8: {"conv2d_forward": _conv_nchw.conv2d_forward_v8, "conv2d_backward": _conv_nchw.conv2d_backward_v8},
    9: {"conv2d_forward": conv2d_forward_v9, "conv2d_backward": _conv_nchw.conv2d_backward_v7},
}
# conv2d_relu (a Conv2D with activation="relu"): v7 and v9 apply the ReLU where they add the
# bias, while each output block is in cache; the others run the ReLU kernel after the conv
_FUSED_RELU = {7: functools.partial(_conv_nchw.forward_v7_or_v5, relu=True),
               9: functools.partial(_forward_v9, relu=True)}
for _v, _ops in VERSIONS.items():
    _ops.update(composed("conv2d", _ops["conv2d_forward"], _ops["conv2d_backward"], activations.relu_forward,
                         activations.relu_backward, _FUSED_RELU.get(_v)))

# versions with a backward for dw, db only (the input needs no gradient: the first layer in a
# training step); ops runs the whole backward of the others and drops its dx
PARAMS_ONLY = {5: conv2d_backward_params_v5, 7: _conv_nchw.conv2d_backward_params_v7,
               9: _conv_nchw.conv2d_backward_params_v7}
PARAMS_ONLY.update({("conv2d_relu", v): masked(f, activations.relu_backward) for v, f in list(PARAMS_ONLY.items())})
DEFAULT = 9   # seed CNN step 244 -> 219 ms against v7 (median of 5 alternating rounds); v7 elsewhere


def conv2d_forward(x, w, b, stride, padding):
    return VERSIONS[active("cpu.conv2d", DEFAULT)]["conv2d_forward"](x, w, b, stride, padding)


def conv2d_backward(dout, cache):
    return VERSIONS[active("cpu.conv2d", DEFAULT)]["conv2d_backward"](dout, cache)


def conv2d_relu_forward(x, w, b, stride, padding):
    return VERSIONS[active("cpu.conv2d", DEFAULT)]["conv2d_relu_forward"](x, w, b, stride, padding)


def conv2d_relu_backward(dout, cache):
    return VERSIONS[active("cpu.conv2d", DEFAULT)]["conv2d_relu_backward"](dout, cache)
