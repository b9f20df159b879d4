"""Sequence plumbing for transformers in plain NumPy (family "sequence"): the ground truth of
kernels/cpu/sequence.py. Pure data movement and sums: patches out of images, a class token in
front, learned positions added, pooling to one vector, heads split out of and merged into the
feature axis. The op layer (tinydl/ops/sequence.py) validated every shape.
"""
import numpy as np


def patchify_forward(x, p):
    # x (N, C, H, W) -> patches (N, (H/p)(W/p), C*p*p); a patch flattens as (C, ph, pw), the
    # order of a Conv2D kernel (F, C, KH, KW), and patches go row by row like a conv's output
    N, C, H, W = x.shape
    Hp, Wp = H // p, W // p
    out = x.reshape(N, C, Hp, p, Wp, p).transpose(0, 2, 4, 1, 3, 5).reshape(N, Hp * Wp, C * p * p)
    return np.ascontiguousarray(out), (x.shape, p)


def patchify_backward(dout, cache):
    (N, C, H, W), p = cache
    Hp, Wp = H // p, W // p
    dx = dout.reshape(N, Hp, Wp, C, p, p).transpose(0, 3, 1, 4, 2, 5).reshape(N, C, H, W)
    return np.ascontiguousarray(dx)


def concat_token_forward(x, token):
    # x (N, L, E), token (E,) -> (N, L+1, E) with the token at position 0
    N, L, E = x.shape
    out = np.empty((N, L + 1, E), dtype=x.dtype)
    out[:, 0] = token
    out[:, 1:] = x
    return out, None


def concat_token_backward(dout, cache):
    # dout (N, L+1, E) -> dx (N, L, E), dtoken (E,) = the sum over the batch of position 0
    return np.ascontiguousarray(dout[:, 1:]), dout[:, 0].sum(axis=0)


def pos_embed_forward(x, pos):
    # x (N, L, E), pos (M, E) with L <= M -> x + pos[:L]
    L = x.shape[1]
    return x + pos[:L], pos.shape


def pos_embed_backward(dout, cache):
    # dout (N, L, E) -> dx = dout (a copy), dpos (M, E): the batch sum in rows < L, zeros after
    M, E = cache
    L = dout.shape[1]
    dpos = np.zeros((M, E), dtype=dout.dtype)
    dpos[:L] = dout.sum(axis=0)
    return dout.copy(), dpos


def sequence_pool_forward(x, mode):
    # x (N, L, E) -> (N, E): the first token ("cls") or the mean over L ("mean")
    if mode == "cls":
        out = np.ascontiguousarray(x[:, 0])
    else:
        out = x.mean(axis=1)
    return out, (x.shape, mode)


def sequence_pool_backward(dout, cache):
    (N, L, E), mode = cache
    dx = np.zeros((N, L, E), dtype=dout.dtype)
    if mode == "cls":
        dx[:, 0] = dout
    else:
        dx[:] = (dout / L)[:, None, :]
    return dx


def split_heads_forward(x, num_heads):
    # x (N, L, H*D) -> (N, H, L, D)
    N, L, F = x.shape
    out = x.reshape(N, L, num_heads, F // num_heads).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(out), None


def split_heads_backward(dout, cache):
    N, H, L, D = dout.shape
    return np.ascontiguousarray(dout.transpose(0, 2, 1, 3).reshape(N, L, H * D))


def merge_heads_forward(x):
    # x (N, H, L, D) -> (N, L, H*D)
    N, H, L, D = x.shape
    return np.ascontiguousarray(x.transpose(0, 2, 1, 3).reshape(N, L, H * D)), H


def merge_heads_backward(dout, cache):
    H = cache
    N, L, F = dout.shape
    return np.ascontiguousarray(dout.reshape(N, L, H, F // H).transpose(0, 2, 1, 3))
