"""conv2d v7 and v8 (kernels/cpu/conv2d.py): no layout round trip, and a direct kernel for few channels.

v4/v5 lay the batch out as one matrix, cols (C*KH*KW, N*P) (P = OH*OW), so one GEMM gives
y (F, N*P), and a transpose pass turns it into the NCHW output (N, F, P); the backward transposes
dout back. At small channel counts those two passes cost as much as the GEMMs (the small CNN:
2.3 ms of transposes against 2.1 ms of GEMM per step).

v7  im2col per image, cols (n, C*KH*KW, P): then out[n] (F, P) = w (F, CKK) @ cols[n] is already
    image n's NCHW plane block, so the GEMM writes straight into the output, and the bias is
    added to out[n] while it is still in cache. The backward works on dout[n] (F, P) in place:
    dw += dout[n] @ cols[n]^T, dcols[n] = w^T @ dout[n] (into cols[n], no longer needed), then
    col2im. Images go in chunks of about 4096 output pixels (_conv_common.chunks: cols stays in cache, as in
    v5); each image's GEMM (or a column block of it, when a chunk has fewer images than threads)
    is one task on Numba's threads, a single-threaded BLAS call (kernels/cpu/_blas.py); dw's
    rows are split over the threads, each accumulating its block over the chunk's images.
    im2col/col2im have a stride-1 path whose inner loop is a unit-stride copy (v4's strided
    gather `x[..., j * sw + q]` does not vectorize). Per-image GEMMs are skinny when P is small
    (the seed CNN's 8x8 layer already lost to v5): below MIN_PIXELS v7 falls back to v5.

v8  v7 plus a direct kernel where the filter has few taps (C*KH*KW <= DIRECT_MAX_TAPS: the
    first layer of a network, C = 1 or 3): there the GEMM's K is 9..27, too short for BLAS to
    pay for the im2col matrix it needs. Forward: one output plane (n, f) per task, the bias
    first, then for each tap an axpy of a shifted input row (unit stride, vectorized, padding
    never materialized). Backward: dx one input plane (n, c) per task (axpys of dout rows);
    dw and db one filter per task, accumulated per output column into a row buffer (an
    elementwise multiply-add that vectorizes, where a running scalar sum would not without
    fastmath) and summed at the end.

Scratch space is per thread (threading.local): two threads may run convolutions at once.
"""
import threading

import numpy as np
from numba import njit, prange

from tinydl.kernels.cpu._blas import gemm_block, num_threads
from tinydl.kernels.cpu._conv_common import chunks, out_size, sum_db
from tinydl.kernels.cpu._conv_common import valid_range as _valid_range
from tinydl.kernels.cpu.activations import relu_in_place

MIN_PIXELS = 256         # v7 from 16x16 outputs per image up; below, v5 (one GEMM per chunk)
DIRECT_MAX_TAPS = 27     # v8's direct kernel up to C*KH*KW taps (3 channels of 3x3)

_local = threading.local()


def scratch(slot, shape, dtype):
    """A reusable per-thread scratch array of ``shape`` (never returned to the caller)."""
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    size = int(np.prod(shape))
    key = (slot, np.dtype(dtype))
    buf = bufs.get(key)
    if buf is None or buf.size < size:
        buf = bufs[key] = np.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


@njit(parallel=True, cache=True)
def im2col_images(x, KH, KW, sh, sw, pt, pl, OH, OW, cols):
    # x (N, C, H, W) -> cols (N, C*KH*KW, OH*OW): cols[n, (c, p, q), (i, j)] = x[n, c, i*sh+p-pt, j*sw+q-pl]
    N, C, H, W = x.shape
    R = C * KH * KW
    for t in prange(N * R):
        n = t // R
        r = t % R
        c = r // (KH * KW)
        p = (r // KW) % KH
        q = r % KW
        off = q - pl
        j0, j1 = _valid_range(OW, sw, off, W)
        row = cols[n, r]
        for i in range(OH):
            o = i * OW
            h = i * sh + p - pt
            if h < 0 or h >= H:
                for j in range(OW):
                    row[o + j] = 0.0
                continue
            src = x[n, c, h]
            for j in range(j0):
                row[o + j] = 0.0
            if sw == 1:
                a = row[o + j0:o + j1]           # slices indexed from 0: no negative-index
                b = src[j0 + off:j1 + off]       # wraparound test, so the copy vectorizes
                for j in range(j1 - j0):
                    a[j] = b[j]
            else:
                for j in range(j0, j1):
                    row[o + j] = src[j * sw + off]
            for j in range(j1, OW):
                row[o + j] = 0.0


@njit(parallel=True, cache=True)
def col2im_images(cols, KH, KW, sh, sw, pt, pl, OH, OW, dx):
    # cols (N, C*KH*KW, OH*OW) -> dx (N, C, H, W) += each entry at the input it was read from;
    # dx must hold zeros; one (n, c) plane per task
    N, C, H, W = dx.shape
    for t in prange(N * C):
        n = t // C
        c = t % C
        for p in range(KH):
            for q in range(KW):
                r = (c * KH + p) * KW + q
                off = q - pl
                j0, j1 = _valid_range(OW, sw, off, W)
                row = cols[n, r]
                for i in range(OH):
                    h = i * sh + p - pt
                    if h < 0 or h >= H:
                        continue
                    dst = dx[n, c, h]
                    o = i * OW
                    if sw == 1:
                        a = dst[j0 + off:j1 + off]
                        b = row[o + j0:o + j1]
                        for j in range(j1 - j0):
                            a[j] += b[j]
                    else:
                        for j in range(j0, j1):
                            dst[j * sw + off] += row[o + j]


@njit(cache=True)
def _blocks_per_image(n_images, P):
    # column blocks per image so that every thread gets work even when a chunk holds few images
    T = num_threads()
    return max(1, min((T + n_images - 1) // n_images, P // 64))


@njit(cache=True, inline="always")
def _task(t, nb, P):
    # task t of n_images * nb -> (image n, its output columns [c0, c1))
    n, j = t // nb, t % nb
    return n, j * P // nb, (j + 1) * P // nb


@njit(parallel=True, cache=True)
def _gemm_bias_images(w2, cols, b, relu, out):
    # out[n] (F, P) = w2 (F, CKK) @ cols[n] (CKK, P) + b (then max(., 0) if relu): one task per
    # image (or per column block of one), each a single-threaded GEMM on Numba's threads, the
    # bias (and the ReLU) applied while the block is in cache
    F = w2.shape[0]
    n_img, _, P = cols.shape
    nb = _blocks_per_image(n_img, P)
    for t in prange(n_img * nb):
        n, c0, c1 = _task(t, nb, P)
        o = out[n][:, c0:c1]
        gemm_block(w2, cols[n][:, c0:c1], o, 0.0)
        for f in range(F):
            bf = b[f]
            if relu:                                           # two loops: a test of relu in
                for k in range(c1 - c0):                       # the loop would keep it from
                    v = o[f, k] + bf                           # vectorizing
                    o[f, k] = 0.0 if v <= 0.0 else v           # the ReLU op's rule: NaN passes
            else:
                for k in range(c1 - c0):
                    o[f, k] += bf


@njit(parallel=True, cache=True)
def _dw_images(d, cols, dw):
    # dw (F, CKK) += sum over images of d[n] (F, P) @ cols[n]^T: each thread owns a block of
    # dw's rows and accumulates into it (BLAS's beta = 1), so no partial sums are reduced
    F = dw.shape[0]
    parts = max(1, min(num_threads(), F))
    for j in prange(parts):
        f0, f1 = j * F // parts, (j + 1) * F // parts
        for n in range(cols.shape[0]):
            gemm_block(d[n][f0:f1], cols[n].T, dw[f0:f1], 1.0)


@njit(parallel=True, cache=True)
def _dcols_images(d, w2, cols):
    # cols[n] (CKK, P) = w2^T (CKK, F) @ d[n] (F, P), the columns' gradient, per image or block
    n_img, _, P = cols.shape
    nb = _blocks_per_image(n_img, P)
    for t in prange(n_img * nb):
        n, c0, c1 = _task(t, nb, P)
        gemm_block(w2.T, d[n][:, c0:c1], cols[n][:, c0:c1], 0.0)


def _backward_images(d, w2, cols, dw, need_dx):
    # per chunk: dw += d[n] @ cols[n]^T over its images, then cols[n] = w2^T @ d[n] (the dcols)
    _dw_images(d, cols, dw)
    if need_dx:
        _dcols_images(d, w2, cols)


def forward_v7(x, w, b, stride, padding, relu=False):
    # x (N, C, H, W), w (F, C, KH, KW), b (F,) or None -> out (N, F, OH, OW) (its ReLU if relu)
    N = x.shape[0]
    F, C, KH, KW = w.shape
    OH, OW = out_size(x.shape, w.shape, stride, padding)
    P = OH * OW
    w2 = w.reshape(F, C * KH * KW)
    bias = b if b is not None else np.zeros(F, dtype=w.dtype)
    out = np.empty((N, F, P), dtype=x.dtype)
    for n0, n1 in chunks(N, P, C * KH * KW):
        cols = scratch("cols", (n1 - n0, C * KH * KW, P), x.dtype)
        im2col_images(x[n0:n1], KH, KW, stride[0], stride[1], padding[0], padding[2], OH, OW, cols)
        _gemm_bias_images(w2, cols, bias, relu, out[n0:n1])
    return out.reshape(N, F, OH, OW)


def backward_v7(dout, x, w, has_bias, stride, padding, need_dx=True):
    # dout (N, F, OH, OW) -> dx (N, C, H, W) (None unless need_dx), dw (F, C, KH, KW), db (F,) or None
    N = x.shape[0]
    F, C, KH, KW = w.shape
    CKK = C * KH * KW
    OH, OW = dout.shape[2], dout.shape[3]
    P = OH * OW
    d3 = dout.reshape(N, F, P)
    w2 = w.reshape(F, CKK)
    dw = np.zeros((F, CKK), dtype=x.dtype)
    dx = np.zeros_like(x) if need_dx else None
    for n0, n1 in chunks(N, P, CKK):
        cols = scratch("cols", (n1 - n0, CKK, P), x.dtype)
        im2col_images(x[n0:n1], KH, KW, stride[0], stride[1], padding[0], padding[2], OH, OW, cols)
        _backward_images(d3[n0:n1], w2, cols, dw, need_dx)
        if need_dx:
            col2im_images(cols, KH, KW, stride[0], stride[1], padding[0], padding[2], OH, OW, dx[n0:n1])
    db = sum_db(d3) if has_bias else None
    return dx, dw.reshape(w.shape), db


# -- v8: direct kernels for few taps ----------------------------------------------------------
@njit(parallel=True, cache=True)
def _direct_fwd(x, w, b, sh, sw, pt, pl, out):
    # x (N, C, H, W), w (F, C, KH, KW) -> out (N, F, OH, OW) = b + sum of shifted, weighted rows
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    OH, OW = out.shape[2], out.shape[3]
    for t in prange(N * F):
        n = t // F
        f = t % F
        o = out[n, f]
        bf = b[f]
        for i in range(OH):
            for j in range(OW):
                o[i, j] = bf
        for c in range(C):
            for p in range(KH):
                for q in range(KW):
                    wv = w[f, c, p, q]
                    off = q - pl
                    j0, j1 = _valid_range(OW, sw, off, W)
                    for i in range(OH):
                        h = i * sh + p - pt
                        if h < 0 or h >= H:
                            continue
                        src = x[n, c, h]
                        dst = o[i]
                        if sw == 1:
                            a = dst[j0:j1]
                            s = src[j0 + off:j1 + off]
                            for j in range(j1 - j0):
                                a[j] += wv * s[j]
                        else:
                            for j in range(j0, j1):
                                dst[j] += wv * src[j * sw + off]


@njit(parallel=True, cache=True)
def _direct_dx(dout, w, sh, sw, pt, pl, dx):
    # dx[n, c, i*sh+p-pt, j*sw+q-pl] += w[f, c, p, q] * dout[n, f, i, j]; dx holds zeros; one plane per task
    N, C, H, W = dx.shape
    F, _, KH, KW = w.shape
    OH, OW = dout.shape[2], dout.shape[3]
    for t in prange(N * C):
        n = t // C
        c = t % C
        for f in range(F):
            for p in range(KH):
                for q in range(KW):
                    wv = w[f, c, p, q]
                    off = q - pl
                    j0, j1 = _valid_range(OW, sw, off, W)
                    for i in range(OH):
                        h = i * sh + p - pt
                        if h < 0 or h >= H:
                            continue
                        src = dout[n, f, i]
                        dst = dx[n, c, h]
                        if sw == 1:
                            a = dst[j0 + off:j1 + off]
                            s = src[j0:j1]
                            for j in range(j1 - j0):
                                a[j] += wv * s[j]
                        else:
                            for j in range(j0, j1):
                                dst[j * sw + off] += wv * src[j]


@njit(parallel=True, cache=True)
def _direct_dw(dout, x, sh, sw, pt, pl, KH, KW, dw, db):
    # dw[f, c, p, q] = sum_{n,i,j} dout[n, f, i, j] x[n, c, i*sh+p-pt, j*sw+q-pl]; db[f] = sum dout[n, f]
    N, C, H, W = x.shape
    F = dout.shape[1]
    OH, OW = dout.shape[2], dout.shape[3]
    for f in prange(F):
        acc = np.zeros((C * KH * KW, OW), dtype=np.float64)    # per tap, per output column
        accb = np.zeros(OW, dtype=np.float64)
        for n in range(N):
            for i in range(OH):
                g = dout[n, f, i]
                for j in range(OW):
                    accb[j] += g[j]
                for c in range(C):
                    for p in range(KH):
                        h = i * sh + p - pt
                        if h < 0 or h >= H:
                            continue
                        src = x[n, c, h]
                        for q in range(KW):
                            off = q - pl
                            j0, j1 = _valid_range(OW, sw, off, W)
                            a = acc[(c * KH + p) * KW + q]
                            if sw == 1:
                                a0 = a[j0:j1]
                                g0 = g[j0:j1]
                                s0 = src[j0 + off:j1 + off]
                                for j in range(j1 - j0):
                                    a0[j] += g0[j] * s0[j]
                            else:
                                for j in range(j0, j1):
                                    a[j] += g[j] * src[j * sw + off]
        for r in range(C * KH * KW):
            s = 0.0
            for j in range(OW):
                s += acc[r, j]
            dw[f, r // (KH * KW), (r // KW) % KH, r % KW] = s
        s = 0.0
        for j in range(OW):
            s += accb[j]
        db[f] = s


def direct_fits(w):
    F, C, KH, KW = w.shape
    return C * KH * KW <= DIRECT_MAX_TAPS


def forward_direct(x, w, b, stride, padding):
    OH, OW = out_size(x.shape, w.shape, stride, padding)
    out = np.empty((x.shape[0], w.shape[0], OH, OW), dtype=x.dtype)
    bias = b if b is not None else np.zeros(w.shape[0], dtype=w.dtype)
    _direct_fwd(x, w, bias, stride[0], stride[1], padding[0], padding[2], out)
    return out


def backward_direct(dout, x, w, has_bias, stride, padding):
    F, C, KH, KW = w.shape
    dx = np.zeros_like(x)
    _direct_dx(dout, w, stride[0], stride[1], padding[0], padding[2], dx)
    dw = np.empty_like(w)
    db = np.empty(F, dtype=x.dtype)
    _direct_dw(dout, x, stride[0], stride[1], padding[0], padding[2], KH, KW, dw, db)
    return dx, dw, (db if has_bias else None)


# -- the versions, as conv2d.py's VERSIONS table calls them ------------------------------------
def _v5():
    from tinydl.kernels.cpu import conv2d  # the fallback (imported late: conv2d imports this module)
    return conv2d


def _use_v7(x, w, stride, padding):
    OH, OW = out_size(x.shape, w.shape, stride, padding)
    return OH * OW >= MIN_PIXELS


def conv2d_forward_v7(x, w, b, stride, padding):
    return forward_v7_or_v5(x, w, b, stride, padding, relu=False)


def forward_v7_or_v5(x, w, b, stride, padding, relu):
    """(out, the conv's cache); relu: out is the conv's ReLU, applied where v7 adds the bias
    (conv2d_relu's fused forward)."""
    if not _use_v7(x, w, stride, padding):
        out, cache = _v5().conv2d_forward_v5(x, w, b, stride, padding)
        return (relu_in_place(out) if relu else out), cache
    return forward_v7(x, w, b, stride, padding, relu), (x, w, b is not None, stride, padding)


def conv2d_backward_v7(dout, cache):
    x, w, has_bias, stride, padding = cache
    if not _use_v7(x, w, stride, padding):
        return _v5().conv2d_backward_v5(dout, cache)
    return backward_v7(dout, x, w, has_bias, stride, padding)


def conv2d_backward_params_v7(dout, cache):
    """dw, db only (the input needs no gradient): no dcols GEMMs, no col2im."""
    x, w, has_bias, stride, padding = cache
    if not _use_v7(x, w, stride, padding):
        return _v5().conv2d_backward_params_v5(dout, cache)
    return backward_v7(dout, x, w, has_bias, stride, padding, need_dx=False)[1:]


def conv2d_forward_v8(x, w, b, stride, padding):
    if not direct_fits(w):
        return conv2d_forward_v7(x, w, b, stride, padding)
    return forward_direct(x, w, b, stride, padding), (x, w, b is not None, stride, padding)


def conv2d_backward_v8(dout, cache):
    x, w, has_bias, stride, padding = cache
    if not direct_fits(w):
        return conv2d_backward_v7(dout, cache)
    return backward_direct(dout, x, w, has_bias, stride, padding)
