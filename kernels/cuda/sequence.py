"""Sequence plumbing for transformers on the GPU (numba.cuda), family "sequence".

One version each: copies and sums, memory-bound, one thread per OUTPUT element so every write
is owned by one thread (sums over the batch loop inside the thread: no atomics). Shapes as in
kernels/reference/sequence.py:

    patchify        x (N, C, H, W) -> (N, (H/p)(W/p), C*p*p), a patch flattened as (C, ph, pw)
    concat_token    x (N, L, E), token (E,) -> (N, L+1, E), the token first
    pos_embed       x (N, L, E) + pos[:L] (pos (M, E)); dpos sums the batch, zeros past L
    sequence_pool   (N, L, E) -> (N, E): the first token ("cls") or the mean over L
    split / merge heads   (N, L, H*D) <-> (N, H, L, D): the same (0, 2, 1, 3) permutation
"""
from numba import cuda, float64

from tinydl.kernels.cuda._launch import TPB, blocks, empty, on_device


def _go(kernel, n, *args):
    if n:
        kernel[blocks(n), TPB](*args)


@cuda.jit
def _patchify(x, p, out):
    k = cuda.grid(1)
    if k < out.size:
        N, T, F = out.shape
        Wp = x.shape[3] // p
        n, r = k // (T * F), k % (T * F)
        t, f = r // F, r % F
        c, a, b = f // (p * p), (f % (p * p)) // p, f % p
        out[n, t, f] = x[n, c, (t // Wp) * p + a, (t % Wp) * p + b]


@cuda.jit
def _unpatchify(dout, p, dx):
    k = cuda.grid(1)
    if k < dx.size:
        N, C, H, W = dx.shape
        Wp = W // p
        n, r = k // (C * H * W), k % (C * H * W)
        c, hw = r // (H * W), r % (H * W)
        h, w = hw // W, hw % W
        dx[n, c, h, w] = dout[n, (h // p) * Wp + w // p, (c * p + h % p) * p + w % p]


def patchify_forward(x, p):
    x = on_device(x)
    N, C, H, W = x.shape
    out = empty((N, (H // p) * (W // p), C * p * p), x.dtype)
    _go(_patchify, out.size, x, p, out)
    return out, (x.shape, p)


def patchify_backward(dout, cache):
    shape, p = cache
    dout = on_device(dout)
    dx = empty(shape, dout.dtype)
    _go(_unpatchify, dx.size, dout, p, dx)
    return dx


@cuda.jit
def _concat(x, token, out):
    k = cuda.grid(1)
    if k < out.size:
        N, L1, E = out.shape
        n, r = k // (L1 * E), k % (L1 * E)
        t, e = r // E, r % E
        out[n, t, e] = token[e] if t == 0 else x[n, t - 1, e]


@cuda.jit
def _batch_sum_rows(d, row, out):
    # out[e] = sum_n d[n, row, e]
    e = cuda.grid(1)
    if e < out.size:
        acc = 0.0
        for n in range(d.shape[0]):
            acc += float64(d[n, row, e])
        out[e] = acc


@cuda.jit
def _slice_rows(d, start, out):
    # out[n, t, e] = d[n, start + t, e]
    k = cuda.grid(1)
    if k < out.size:
        N, L, E = out.shape
        n, r = k // (L * E), k % (L * E)
        out[n, r // E, r % E] = d[n, start + r // E, r % E]


def concat_token_forward(x, token):
    x, token = on_device(x), on_device(token)
    N, L, E = x.shape
    out = empty((N, L + 1, E), x.dtype)
    _go(_concat, out.size, x, token, out)
    return out, None


def concat_token_backward(dout, cache):
    dout = on_device(dout)
    N, L1, E = dout.shape
    dx = empty((N, L1 - 1, E), dout.dtype)
    _go(_slice_rows, dx.size, dout, 1, dx)
    dtoken = empty((E,), dout.dtype)
    _go(_batch_sum_rows, E, dout, 0, dtoken)
    return dx, dtoken


@cuda.jit
def _add_pos(x, pos, out):
    k = cuda.grid(1)
    if k < out.size:
        N, L, E = out.shape
        r = k % (L * E)
        out[k // (L * E), r // E, r % E] = x[k // (L * E), r // E, r % E] + pos[r // E, r % E]


@cuda.jit
def _dpos(dout, dpos):
    # dpos[t, e] = sum_n dout[n, t, e] for t < L, 0 after
    k = cuda.grid(1)
    if k < dpos.size:
        M, E = dpos.shape
        t, e = k // E, k % E
        acc = 0.0
        if t < dout.shape[1]:
            for n in range(dout.shape[0]):
                acc += float64(dout[n, t, e])
        dpos[t, e] = acc


def pos_embed_forward(x, pos):
    x, pos = on_device(x), on_device(pos)
    out = empty(x.shape, x.dtype)
    _go(_add_pos, out.size, x, pos, out)
    return out, pos.shape


def pos_embed_backward(dout, cache):
    dout = on_device(dout)
    dx = empty(dout.shape, dout.dtype)
    _go(_slice_rows, dx.size, dout, 0, dx)                 # a fresh copy
    dpos = empty(cache, dout.dtype)
    _go(_dpos, dpos.size, dout, dpos)
    return dx, dpos


@cuda.jit
def _pool(x, mean, out):
    k = cuda.grid(1)
    if k < out.size:
        N, E = out.shape
        n, e = k // E, k % E
        if mean:
            acc = 0.0
            for t in range(x.shape[1]):
                acc += float64(x[n, t, e])
            out[n, e] = acc / x.shape[1]
        else:
            out[n, e] = x[n, 0, e]


@cuda.jit
def _pool_bwd(dout, mean, dx):
    k = cuda.grid(1)
    if k < dx.size:
        N, L, E = dx.shape
        n, r = k // (L * E), k % (L * E)
        t, e = r // E, r % E
        if mean:
            dx[n, t, e] = dout[n, e] / L
        else:
            dx[n, t, e] = dout[n, e] if t == 0 else 0


def sequence_pool_forward(x, mode):
    x = on_device(x)
    N, L, E = x.shape
    out = empty((N, E), x.dtype)
    _go(_pool, out.size, x, mode == "mean", out)
    return out, (x.shape, mode)


def sequence_pool_backward(dout, cache):
    shape, mode = cache
    dout = on_device(dout)
    dx = empty(shape, dout.dtype)
    _go(_pool_bwd, dx.size, dout, mode == "mean", dx)
    return dx


@cuda.jit
def _swap12(src, out):
    # src (A, B, C, D) -> out (A, C, B, D)
    k = cuda.grid(1)
    if k < out.size:
        A, C, B, D = out.shape
        a, r = k // (C * B * D), k % (C * B * D)
        c, r2 = r // (B * D), r % (B * D)
        b, d = r2 // D, r2 % D
        out[a, c, b, d] = src[a, b, c, d]


def _swapped(x4):
    A, B, C, D = x4.shape
    out = empty((A, C, B, D), x4.dtype)
    _go(_swap12, out.size, x4, out)
    return out


def split_heads_forward(x, num_heads):
    # (N, L, H*D) -> (N, H, L, D)
    x = on_device(x)
    N, L, F = x.shape
    return _swapped(x.reshape(N, L, num_heads, F // num_heads)), None


def split_heads_backward(dout, cache):
    dout = on_device(dout)
    N, H, L, D = dout.shape
    return _swapped(dout).reshape(N, L, H * D)


def merge_heads_forward(x):
    # (N, H, L, D) -> (N, L, H*D)
    x = on_device(x)
    N, H, L, D = x.shape
    return _swapped(x).reshape(N, L, H * D), H


def merge_heads_backward(dout, cache):
    H = cache
    dout = on_device(dout)
    N, L, F = dout.shape
    return _swapped(dout.reshape(N, L, H, F // H))
