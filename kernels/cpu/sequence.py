"""Sequence plumbing for transformers on the CPU (Numba), family "sequence".

One version each: these are copies and sums, memory-bound, so the lesson is only "one prange
over the outer axis, contiguous inner loops": patches out of images, a class token in front,
learned positions added, pooling to one vector, heads split out of and merged into the feature
axis. Shapes as in kernels/reference/sequence.py.
"""
import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def _patchify(x, p, out):
    # x (N, C, H, W) -> out (N, Hp*Wp, C*p*p), a patch flattened as (C, ph, pw)
    N, C, H, W = x.shape
    Wp = W // p
    T = out.shape[1]
    for nt in prange(N * T):
        n, t = nt // T, nt % T
        y0, x0 = (t // Wp) * p, (t % Wp) * p
        f = 0
        for c in range(C):
            for a in range(p):
                for b in range(p):
                    out[n, t, f] = x[n, c, y0 + a, x0 + b]
                    f += 1


@njit(cache=True, parallel=True)
def _unpatchify(dout, p, dx):
    N, C, H, W = dx.shape
    Wp = W // p
    T = dout.shape[1]
    for nt in prange(N * T):
        n, t = nt // T, nt % T
        y0, x0 = (t // Wp) * p, (t % Wp) * p
        f = 0
        for c in range(C):
            for a in range(p):
                for b in range(p):
                    dx[n, c, y0 + a, x0 + b] = dout[n, t, f]
                    f += 1


def patchify_forward(x, p):
    N, C, H, W = x.shape
    out = np.empty((N, (H // p) * (W // p), C * p * p), dtype=x.dtype)
    _patchify(x, p, out)
    return out, (x.shape, p)


def patchify_backward(dout, cache):
    shape, p = cache
    dx = np.empty(shape, dtype=dout.dtype)   # patches tile the image: every element written
    _unpatchify(dout, p, dx)
    return dx


@njit(cache=True, parallel=True)
def _concat_token(x, token, out):
    N, L, E = x.shape
    for n in prange(N):
        for e in range(E):
            out[n, 0, e] = token[e]
        for i in range(L):
            for e in range(E):
                out[n, i + 1, e] = x[n, i, e]


@njit(cache=True)
def _batch_sum_rows(dout, row, total):
    # total (E,) = sum over n of dout[n, row]
    for n in range(dout.shape[0]):
        for e in range(dout.shape[2]):
            total[e] += dout[n, row, e]


def concat_token_forward(x, token):
    N, L, E = x.shape
    out = np.empty((N, L + 1, E), dtype=x.dtype)
    _concat_token(x, token, out)
    return out, None


def concat_token_backward(dout, cache):
    dx = np.ascontiguousarray(dout[:, 1:])
    dtoken = np.zeros(dout.shape[2], dtype=dout.dtype)
    _batch_sum_rows(dout, 0, dtoken)
    return dx, dtoken


@njit(cache=True, parallel=True)
def _pos_add(x, pos, out):
    N, L, E = x.shape
    for n in prange(N):
        for i in range(L):
            for e in range(E):
                out[n, i, e] = x[n, i, e] + pos[i, e]


@njit(cache=True, parallel=True)
def _pos_grad(dout, dpos):
    # dpos[i] = sum over n of dout[n, i]: each thread owns rows i, the batch sum runs in order
    N, L, E = dout.shape
    for i in prange(L):
        for n in range(N):
            for e in range(E):
                dpos[i, e] += dout[n, i, e]


def pos_embed_forward(x, pos):
    out = np.empty_like(x)
    _pos_add(x, pos, out)
    return out, pos.shape


def pos_embed_backward(dout, cache):
    dpos = np.zeros(cache, dtype=dout.dtype)
    _pos_grad(dout, dpos)
    return dout.copy(), dpos


@njit(cache=True, parallel=True)
def _mean_pool(x, out):
    N, L, E = x.shape
    for n in prange(N):
        for e in range(E):
            out[n, e] = 0.0
        for i in range(L):
            for e in range(E):
                out[n, e] += x[n, i, e]
        for e in range(E):
            out[n, e] = out[n, e] / L


@njit(cache=True, parallel=True)
def _mean_pool_back(dout, dx):
    N, L, E = dx.shape
    for n in prange(N):
        for i in range(L):
            for e in range(E):
                dx[n, i, e] = dout[n, e] / L


def sequence_pool_forward(x, mode):
    N, L, E = x.shape
    if mode == "cls":
        out = np.ascontiguousarray(x[:, 0])
    else:
        out = np.empty((N, E), dtype=x.dtype)
        _mean_pool(x, out)
    return out, (x.shape, mode)


def sequence_pool_backward(dout, cache):
    shape, mode = cache
    if mode == "cls":
        dx = np.zeros(shape, dtype=dout.dtype)
        dx[:, 0] = dout
    else:
        dx = np.empty(shape, dtype=dout.dtype)
        _mean_pool_back(dout, dx)
    return dx


@njit(cache=True, parallel=True)
def _split(x, H, out):
    # x (N, L, H*D) -> out (N, H, L, D)
    N, L, F = x.shape
    D = F // H
    for nh in prange(N * H):
        n, h = nh // H, nh % H
        for i in range(L):
            for d in range(D):
                out[n, h, i, d] = x[n, i, h * D + d]


@njit(cache=True, parallel=True)
def _merge(x, out):
    # x (N, H, L, D) -> out (N, L, H*D)
    N, H, L, D = x.shape
    for n in prange(N):
        for i in range(L):
            for h in range(H):
                for d in range(D):
                    out[n, i, h * D + d] = x[n, h, i, d]


def split_heads_forward(x, num_heads):
    N, L, F = x.shape
    out = np.empty((N, num_heads, L, F // num_heads), dtype=x.dtype)
    _split(x, num_heads, out)
    return out, None


def split_heads_backward(dout, cache):
    N, H, L, D = dout.shape
    dx = np.empty((N, L, H * D), dtype=dout.dtype)
    _merge(dout, dx)
    return dx


def merge_heads_forward(x):
    N, H, L, D = x.shape
    out = np.empty((N, L, H * D), dtype=x.dtype)
    _merge(x, out)
    return out, H


def merge_heads_backward(dout, cache):
    H = cache
    N, L, F = dout.shape
    dx = np.empty((N, H, L, F // H), dtype=dout.dtype)
    _split(dout, H, dx)
    return dx
