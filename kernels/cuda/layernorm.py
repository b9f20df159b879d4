"""Layer normalization on the GPU (numba.cuda): the lesson plan.

Over the last axis: x (R, E) (the op layer flattened the leading axes), gamma, beta (E,).

    forward    mean, var (biased) of each row, in float64, two passes; rstd = 1/sqrt(var + eps)
               out = (x - mean) * rstd * gamma + beta;  cache x, mean, rstd (xhat recomputed)
    backward   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dout * gamma
               dgamma = sum over rows of dout * xhat, dbeta = sum over rows of dout:
               one thread per column e walking down the rows (neighbouring threads read
               neighbouring columns of a row, so the walk coalesces), with no atomics

The ladder is the per-row reduction (llm.c's layernorm_forward.cu climbs the same way):
v1  one thread per row: fine for many short rows; with E = 768 and a few hundred rows most of
    the GPU idles while each thread walks 768 values. Not measured (no GPU in this session).
v2  one block of 32 threads (a warp) per row, strided over E, sums combined in shared memory
    (kernels/cuda/_reduce.py). Not measured yet.

DEFAULT = 2.
"""
import math

from numba import cuda

from tinydl.kernels._versions import active
from tinydl.kernels.cuda._launch import TPB, blocks, empty, on_device
from tinydl.kernels.cuda._reduce import RTPB, block_sum, float64


# ---- v1: one thread per row ------------------------------------------------------------------
@cuda.jit
def _fwd_v1(x, gamma, beta, eps, mean_out, rstd_out, out):
    r = cuda.grid(1)
    R, E = x.shape
    if r < R:
        acc = 0.0
        for e in range(E):
            acc += float64(x[r, e])
        mean = acc / E
        acc = 0.0
        for e in range(E):
            d = x[r, e] - mean
            acc += d * d
        rstd = 1.0 / math.sqrt(acc / E + eps)
        mean_out[r] = mean
        rstd_out[r] = rstd
        for e in range(E):
            out[r, e] = (x[r, e] - mean) * rstd * gamma[e] + beta[e]


@cuda.jit
def _bwd_v1(x, dout, gamma, mean_in, rstd_in, dx):
    r = cuda.grid(1)
    R, E = x.shape
    if r < R:
        mean, rstd = mean_in[r], rstd_in[r]
        s1 = 0.0
        s2 = 0.0
        for e in range(E):                           # mean(dxhat) and mean(dxhat * xhat)
            g = float64(dout[r, e]) * gamma[e]
            s1 += g
            s2 += g * ((x[r, e] - mean) * rstd)
        s1 /= E
        s2 /= E
        for e in range(E):
            g = float64(dout[r, e]) * gamma[e]
            dx[r, e] = rstd * (g - s1 - (x[r, e] - mean) * rstd * s2)


# ---- v2: one warp-sized block per row --------------------------------------------------------
@cuda.jit
def _fwd_v2(x, gamma, beta, eps, mean_out, rstd_out, out):
    buf = cuda.shared.array(RTPB, dtype=float64)
    r = cuda.blockIdx.x
    t = cuda.threadIdx.x
    E = x.shape[1]
    acc = 0.0
    for e in range(t, E, RTPB):
        acc += float64(x[r, e])
    mean = block_sum(buf, acc) / E
    acc = 0.0
    for e in range(t, E, RTPB):
        d = x[r, e] - mean
        acc += d * d
    rstd = 1.0 / math.sqrt(block_sum(buf, acc) / E + eps)
    if t == 0:
        mean_out[r] = mean
        rstd_out[r] = rstd
    for e in range(t, E, RTPB):
        out[r, e] = (x[r, e] - mean) * rstd * gamma[e] + beta[e]


@cuda.jit
def _bwd_v2(x, dout, gamma, mean_in, rstd_in, dx):
    buf = cuda.shared.array(RTPB, dtype=float64)
    r = cuda.blockIdx.x
    t = cuda.threadIdx.x
    E = x.shape[1]
    mean, rstd = mean_in[r], rstd_in[r]
    s1 = 0.0
    s2 = 0.0
    for e in range(t, E, RTPB):
        g = float64(dout[r, e]) * gamma[e]
        s1 += g
        s2 += g * ((x[r, e] - mean) * rstd)
    s1 = block_sum(buf, s1) / E
    s2 = block_sum(buf, s2) / E
    for e in range(t, E, RTPB):
        g = float64(dout[r, e]) * gamma[e]
        dx[r, e] = rstd * (g - s1 - (x[r, e] - mean) * rstd * s2)


@cuda.jit
def _param_grads(x, dout, mean_in, rstd_in, dgamma, dbeta):
    # one thread per column e: dgamma[e] = sum_r dout[r, e] xhat[r, e], dbeta[e] = sum_r dout[r, e]
    e = cuda.grid(1)
    R, E = x.shape
    if e < E:
        sg = 0.0
        sb = 0.0
        for r in range(R):
            sb += float64(dout[r, e])
            sg += dout[r, e] * ((x[r, e] - mean_in[r]) * rstd_in[r])
        dgamma[e] = sg
        dbeta[e] = sb


def _make(version, fwd, bwd):
    def layernorm_forward(x, gamma, beta, eps):
        # x (R, E) -> out (R, E)
        x, gamma, beta = on_device(x), on_device(gamma), on_device(beta)
        R = x.shape[0]
        out = empty(x.shape, x.dtype)
        mean, rstd = empty((R,), "float64"), empty((R,), "float64")
        if x.size:
            launch = fwd[blocks(R), TPB] if version == 1 else fwd[R, RTPB]
            launch(x, gamma, beta, float(eps), mean, rstd, out)
        return out, (x, mean, rstd, gamma)

    def layernorm_backward(dout, cache):
        # dout (R, E) -> dx (R, E), dgamma (E,), dbeta (E,)
        x, mean, rstd, gamma = cache
        dout = on_device(dout)
        R, E = x.shape
        dx = empty(x.shape, x.dtype)
        dgamma, dbeta = empty((E,), x.dtype), empty((E,), x.dtype)
        if x.size:
            launch = bwd[blocks(R), TPB] if version == 1 else bwd[R, RTPB]
            launch(x, dout, gamma, mean, rstd, dx)
            _param_grads[blocks(E), TPB](x, dout, mean, rstd, dgamma, dbeta)
        return dx, dgamma, dbeta

    layernorm_forward.__name__ += f"_v{version}"
    layernorm_backward.__name__ += f"_v{version}"
    return {"layernorm_forward": layernorm_forward, "layernorm_backward": layernorm_backward}


VERSIONS = {1: _make(1, _fwd_v1, _bwd_v1), 2: _make(2, _fwd_v2, _bwd_v2)}
DEFAULT = 2


def layernorm_forward(x, gamma, beta, eps):
    return VERSIONS[active("cuda.layernorm", DEFAULT)]["layernorm_forward"](x, gamma, beta, eps)


def layernorm_backward(dout, cache):
    return VERSIONS[active("cuda.layernorm", DEFAULT)]["layernorm_backward"](dout, cache)
