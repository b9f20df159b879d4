"""2-D max / average pooling on the CPU.

Numbers: the reference CNN's four max-pools at batch 128 (float32, 2x2 stride 2), forward +
backward summed, benchmarks/bench_conv.py on the shared 2-core machine: one core's CPU time, and
two threads' wall time under load 25. PyTorch: 80 ms on one core, 64 ms with two threads.

v1  direct loops, one thread: for every output, scan its window (clipped to the input, which is
    the same as padding with -inf for max and not counting padding for avg). Max-pool records the
    flat index of the first maximum in row-major order (PyTorch's tie rule) for the backward,
    which adds each output's gradient at that index. 88 ms on one core, 90 ms with two threads.

v2  the same loops with prange over the (image, channel) planes. Each task owns one plane of x
    and of dx, so overlapping windows inside a plane never race. 90 ms on one core, 52 ms with two
    threads: the generic window loop (clipping, flat index, 8-byte argmax) does not vectorize.

v3  a fast path for the common case, pool 2x2 with stride 2 and no padding (every max-pool of the
    reference CNN): the window is unrolled, the argmax is stored as a 1-byte window position
    (0..3) instead of an 8-byte flat index, and the backward writes every element of dx exactly
    once (the gradient or 0), so dx needs no zero-fill pass. Other shapes fall back to v2, and
    average pooling is v2's. 14 ms on one core, 11 ms with two threads (6x PyTorch's speed).

Global average pooling is one parallel reduction per plane and has a single version.
"""
import numpy as np
from numba import njit, prange

from tinydl.kernels._versions import active


def _out_size(x_shape, pool, stride, padding):
    _, _, H, W = x_shape
    return ((H + padding[0] + padding[1] - pool[0]) // stride[0] + 1,
            (W + padding[2] + padding[3] - pool[1]) // stride[1] + 1)


# -- the per-plane loops, shared by both versions -----------------------------------------------
@njit(cache=True, inline="always")
def _max_plane(x, n, c, PH, PW, sh, sw, pt, pl, out, arg):
    # one plane: out[n, c, i, j] = max of the clipped window, arg = flat index h*W + w of it
    H, W = x.shape[2], x.shape[3]
    OH, OW = out.shape[2], out.shape[3]
    for i in range(OH):
        h0 = max(i * sh - pt, 0)
        h1 = min(i * sh - pt + PH, H)
        for j in range(OW):
            w0 = max(j * sw - pl, 0)
            w1 = min(j * sw - pl + PW, W)
            best = x[n, c, h0, w0]
            where = h0 * W + w0
            for h in range(h0, h1):
                for w in range(w0, w1):
                    v = x[n, c, h, w]
                    # strictly greater keeps the first maximum; a NaN wins once and stays
                    if v > best or (v != v and best == best):
                        best = v
                        where = h * W + w
            out[n, c, i, j] = best
            arg[n, c, i, j] = where


@njit(cache=True, inline="always")
def _max_plane_back(dout, arg, n, c, dx):
    W = dx.shape[3]
    OH, OW = dout.shape[2], dout.shape[3]
    for i in range(OH):
        for j in range(OW):
            k = arg[n, c, i, j]
            dx[n, c, k // W, k % W] += dout[n, c, i, j]


@njit(cache=True, inline="always")
def _avg_plane(x, n, c, PH, PW, sh, sw, pt, pl, out):
    H, W = x.shape[2], x.shape[3]
    OH, OW = out.shape[2], out.shape[3]
    for i in range(OH):
        h0 = max(i * sh - pt, 0)
        h1 = min(i * sh - pt + PH, H)
        for j in range(OW):
            w0 = max(j * sw - pl, 0)
            w1 = min(j * sw - pl + PW, W)
            acc = 0.0
            for h in range(h0, h1):
                for w in range(w0, w1):
                    acc += x[n, c, h, w]
            out[n, c, i, j] = acc / ((h1 - h0) * (w1 - w0))   # only elements inside x count


@njit(cache=True, inline="always")
def _avg_plane_back(dout, n, c, PH, PW, sh, sw, pt, pl, dx):
    H, W = dx.shape[2], dx.shape[3]
    OH, OW = dout.shape[2], dout.shape[3]
    for i in range(OH):
        h0 = max(i * sh - pt, 0)
        h1 = min(i * sh - pt + PH, H)
        for j in range(OW):
            w0 = max(j * sw - pl, 0)
            w1 = min(j * sw - pl + PW, W)
            share = dout[n, c, i, j] / ((h1 - h0) * (w1 - w0))
            for h in range(h0, h1):
                for w in range(w0, w1):
                    dx[n, c, h, w] += share


# -- v1: one thread ------------------------------------------------------------------------------
@njit(cache=True)
def _max_fwd_v1(x, PH, PW, sh, sw, pt, pl, out, arg):
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            _max_plane(x, n, c, PH, PW, sh, sw, pt, pl, out, arg)


@njit(cache=True)
def _max_bwd_v1(dout, arg, dx):
    for n in range(dx.shape[0]):
        for c in range(dx.shape[1]):
            _max_plane_back(dout, arg, n, c, dx)


@njit(cache=True)
def _avg_fwd_v1(x, PH, PW, sh, sw, pt, pl, out):
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            _avg_plane(x, n, c, PH, PW, sh, sw, pt, pl, out)


@njit(cache=True)
def _avg_bwd_v1(dout, PH, PW, sh, sw, pt, pl, dx):
    for n in range(dx.shape[0]):
        for c in range(dx.shape[1]):
            _avg_plane_back(dout, n, c, PH, PW, sh, sw, pt, pl, dx)


# -- v2: one (image, channel) plane per task ---------------------------------------------------
@njit(parallel=True, cache=True)
def _max_fwd_v2(x, PH, PW, sh, sw, pt, pl, out, arg):
    C = x.shape[1]
    for t in prange(x.shape[0] * C):
        _max_plane(x, t // C, t % C, PH, PW, sh, sw, pt, pl, out, arg)


@njit(parallel=True, cache=True)
def _max_bwd_v2(dout, arg, dx):
    C = dx.shape[1]
    for t in prange(dx.shape[0] * C):
        _max_plane_back(dout, arg, t // C, t % C, dx)


@njit(parallel=True, cache=True)
def _avg_fwd_v2(x, PH, PW, sh, sw, pt, pl, out):
    C = x.shape[1]
    for t in prange(x.shape[0] * C):
        _avg_plane(x, t // C, t % C, PH, PW, sh, sw, pt, pl, out)


@njit(parallel=True, cache=True)
def _avg_bwd_v2(dout, PH, PW, sh, sw, pt, pl, dx):
    C = dx.shape[1]
    for t in prange(dx.shape[0] * C):
        _avg_plane_back(dout, t // C, t % C, PH, PW, sh, sw, pt, pl, dx)


# -- v3: 2x2 stride 2, unrolled, 1-byte argmax, single-write backward -------------------------
@njit(parallel=True, cache=True)
def _max_fwd_2x2(x, out, arg):
    # x (N, C, H, W) -> out, arg (N, C, H//2, W//2); arg in 0..3 = row-major position in the window
    N, C, OH, OW = out.shape
    for t in prange(N * C):
        n = t // C
        c = t % C
        for i in range(OH):
            for j in range(OW):
                a = x[n, c, 2 * i, 2 * j]
                b = x[n, c, 2 * i, 2 * j + 1]
                d = x[n, c, 2 * i + 1, 2 * j]
                e = x[n, c, 2 * i + 1, 2 * j + 1]
                best, k = a, 0           # first maximum wins ties; a NaN wins once and stays
                if b > best or (b != b and best == best):
                    best, k = b, 1
                if d > best or (d != d and best == best):
                    best, k = d, 2
                if e > best or (e != e and best == best):
                    best, k = e, 3
                out[n, c, i, j] = best
                arg[n, c, i, j] = k


@njit(parallel=True, cache=True)
def _max_bwd_2x2(dout, arg, dx):
    # every element of dx is written once: the gradient at the argmax, 0 elsewhere (incl. an odd edge)
    N, C, H, W = dx.shape
    OH, OW = dout.shape[2], dout.shape[3]
    for t in prange(N * C):
        n = t // C
        c = t % C
        for i in range(OH):
            for j in range(OW):
                g = dout[n, c, i, j]
                k = arg[n, c, i, j]
                dx[n, c, 2 * i, 2 * j] = g if k == 0 else 0.0
                dx[n, c, 2 * i, 2 * j + 1] = g if k == 1 else 0.0
                dx[n, c, 2 * i + 1, 2 * j] = g if k == 2 else 0.0
                dx[n, c, 2 * i + 1, 2 * j + 1] = g if k == 3 else 0.0
            if W % 2:
                dx[n, c, 2 * i, W - 1] = 0.0
                dx[n, c, 2 * i + 1, W - 1] = 0.0
        if H % 2:
            for w in range(W):
                dx[n, c, H - 1, w] = 0.0


def _fast_path(pool_size, stride, padding):
    return tuple(pool_size) == (2, 2) and tuple(stride) == (2, 2) and not any(padding)


def _make(max_fwd, max_bwd, avg_fwd, avg_bwd):
    """The four public functions of one version, around its loop kernels."""
    def maxpool2d_forward(x, pool_size, stride, padding):
        # x (N, C, H, W) -> out (N, C, OH, OW); arg (N, C, OH, OW) int64 flat index of each max
        OH, OW = _out_size(x.shape, pool_size, stride, padding)
        out = np.empty(x.shape[:2] + (OH, OW), dtype=x.dtype)
        arg = np.empty(x.shape[:2] + (OH, OW), dtype=np.int64)
        max_fwd(x, pool_size[0], pool_size[1], stride[0], stride[1], padding[0], padding[2], out, arg)
        return out, (x.shape, arg)

    def maxpool2d_backward(dout, cache):
        x_shape, arg = cache
        dx = np.zeros(x_shape, dtype=dout.dtype)
        max_bwd(dout, arg, dx)
        return dx

    def avgpool2d_forward(x, pool_size, stride, padding):
        OH, OW = _out_size(x.shape, pool_size, stride, padding)
        out = np.empty(x.shape[:2] + (OH, OW), dtype=x.dtype)
        avg_fwd(x, pool_size[0], pool_size[1], stride[0], stride[1], padding[0], padding[2], out)
        return out, (x.shape, pool_size, stride, padding)

    def avgpool2d_backward(dout, cache):
        x_shape, pool, stride, padding = cache
        dx = np.zeros(x_shape, dtype=dout.dtype)
        avg_bwd(dout, pool[0], pool[1], stride[0], stride[1], padding[0], padding[2], dx)
        return dx

    return {"maxpool2d_forward": maxpool2d_forward, "maxpool2d_backward": maxpool2d_backward,
            "avgpool2d_forward": avgpool2d_forward, "avgpool2d_backward": avgpool2d_backward}


# -- global average pooling --------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _gap_fwd(x, out):
    # x (N, C, HW) -> out (N, C)
    N, C, P = x.shape
    for t in prange(N * C):
        acc = 0.0
        for k in range(P):
            acc += x[t // C, t % C, k]
        out[t // C, t % C] = acc / P


@njit(parallel=True, cache=True)
def _gap_bwd(dout, dx):
    N, C, P = dx.shape
    for t in prange(N * C):
        g = dout[t // C, t % C] / P
        for k in range(P):
            dx[t // C, t % C, k] = g


def global_avgpool2d_forward(x):
    # x (N, C, H, W) -> (N, C)
    N, C, H, W = x.shape
    out = np.empty((N, C), dtype=x.dtype)
    _gap_fwd(x.reshape(N, C, H * W), out)
    return out, x.shape


def global_avgpool2d_backward(dout, cache):
    N, C, H, W = cache
    dx = np.empty((N, C, H * W), dtype=dout.dtype)
    _gap_bwd(dout, dx)
    return dx.reshape(N, C, H, W)


def _make_v3():
    """v2's functions with the 2x2 / stride 2 max-pool fast path in front (capability fallback)."""
    v2 = _make(_max_fwd_v2, _max_bwd_v2, _avg_fwd_v2, _avg_bwd_v2)

    def maxpool2d_forward(x, pool_size, stride, padding):
        if not _fast_path(pool_size, stride, padding):
            out, cache = v2["maxpool2d_forward"](x, pool_size, stride, padding)
            return out, ("v2", cache)
        N, C, H, W = x.shape
        out = np.empty((N, C, H // 2, W // 2), dtype=x.dtype)
        arg = np.empty((N, C, H // 2, W // 2), dtype=np.uint8)
        _max_fwd_2x2(x, out, arg)
        return out, ("2x2", (x.shape, arg))

    def maxpool2d_backward(dout, cache):
        kind, inner = cache
        if kind == "v2":
            return v2["maxpool2d_backward"](dout, inner)
        x_shape, arg = inner
        dx = np.empty(x_shape, dtype=dout.dtype)
        _max_bwd_2x2(dout, arg, dx)
        return dx

    return {**v2, "maxpool2d_forward": maxpool2d_forward, "maxpool2d_backward": maxpool2d_backward}


# -- dispatch -----------------------------------------------------------------------------------
VERSIONS = {
    1: _make(_max_fwd_v1, _max_bwd_v1, _avg_fwd_v1, _avg_bwd_v1),
    2: _make(_max_fwd_v2, _max_bwd_v2, _avg_fwd_v2, _avg_bwd_v2),
    3: _make_v3(),
}
DEFAULT = 3   # the fastest correct version


def maxpool2d_forward(x, pool_size, stride, padding):
    return VERSIONS[active("cpu.pool2d", DEFAULT)]["maxpool2d_forward"](x, pool_size, stride, padding)


def maxpool2d_backward(dout, cache):
    return VERSIONS[active("cpu.pool2d", DEFAULT)]["maxpool2d_backward"](dout, cache)


def avgpool2d_forward(x, pool_size, stride, padding):
    return VERSIONS[active("cpu.pool2d", DEFAULT)]["avgpool2d_forward"](x, pool_size, stride, padding)


def avgpool2d_backward(dout, cache):
    return VERSIONS[active("cpu.pool2d", DEFAULT)]["avgpool2d_backward"](dout, cache)
