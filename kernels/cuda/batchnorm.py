"""Batch normalization on the GPU (numba.cuda): the lesson plan.

x is viewed as (N, C, P) (P = H*W for images, 1 for (N, C) features); channel c's statistics run
over its N*P values, accumulated in float64, variance in two passes (mean first, then the mean
squared deviation). The backward recomputes xhat from x, the mean and 1/std instead of caching
a second activation-sized array. Each channel is owned by exactly one thread (v1) or one block
(v2), so the moving statistics are updated in place with no race and no atomics.

    training   mean, var (biased) -> moving = momentum * moving + (1 - momentum) * batch
               out = gamma * (x - mean) * inv_std + beta
    backward   dbeta = sum dout, dgamma = sum dout * xhat
               dx = gamma * inv_std * (dout - dbeta / m - xhat * dgamma / m)   (training)
               dx = gamma * inv_std * dout                                     (inference)

v1  one thread per channel, walking its N*P values (four sweeps forward, three backward).
    A CNN has 64..512 channels: a few hundred busy threads on a GPU that wants tens of
    thousands, each walking a long strided path. Not measured (no GPU in this session).
v2  one block of 32 threads (a warp) per channel: the threads stride over the channel's values
    together and combine their sums in shared memory (kernels/cuda/_reduce.py); the output and
    dx are written by all 32. Not measured yet.

DEFAULT = 2.
"""
import math

from numba import cuda

from tinydl.kernels._relu_after import composed
from tinydl.kernels._versions import active
from tinydl.kernels.cuda import activations
from tinydl.kernels.cuda._launch import TPB, blocks, empty, on_device, writeback
from tinydl.kernels.cuda._reduce import RTPB, block_sum, float64


def _view(x):
    # (N, C, H, W) or (N, C) -> (N, C, P)
    N, C = x.shape[0], x.shape[1]
    return x.reshape(N, C, x.size // max(N * C, 1))


# ---- v1: one thread per channel ----------------------------------------------------------------
@cuda.jit
def _fwd_v1(x, gamma, beta, rmean, rvar, momentum, eps, training, mean_out, inv_out, out):
    c = cuda.grid(1)
    N, C, P = x.shape
    if c < C:
        if training:
            acc = 0.0
            for n in range(N):                       # sweep 1: the mean
                for k in range(P):
                    acc += float64(x[n, c, k])
            mean = acc / (N * P)
            acc = 0.0
            for n in range(N):                       # sweep 2: the biased variance
                for k in range(P):
                    d = x[n, c, k] - mean
                    acc += d * d
            var = acc / (N * P)
            rmean[c] = momentum * rmean[c] + (1.0 - momentum) * mean
            rvar[c] = momentum * rvar[c] + (1.0 - momentum) * var
        else:
            mean = float64(rmean[c])
            var = float64(rvar[c])
        inv = 1.0 / math.sqrt(var + eps)
        mean_out[c] = mean
        inv_out[c] = inv
        for n in range(N):                           # sweep 3: normalize, scale, shift
            for k in range(P):
                out[n, c, k] = gamma[c] * ((x[n, c, k] - mean) * inv) + beta[c]


@cuda.jit
def _bwd_v1(x, dout, gamma, mean_in, inv_in, training, dx, dgamma, dbeta):
    c = cuda.grid(1)
    N, C, P = x.shape
    if c < C:
        mean, inv = mean_in[c], inv_in[c]
        sb = 0.0
        sg = 0.0
        for n in range(N):                           # sweep 1: dbeta and dgamma together
            for k in range(P):
                sb += float64(dout[n, c, k])
                sg += dout[n, c, k] * ((x[n, c, k] - mean) * inv)
        dbeta[c] = sb
        dgamma[c] = sg
        scale = gamma[c] * inv
        m = N * P
        for n in range(N):                           # sweep 2: dx
            for k in range(P):
                if training:
                    xhat = (x[n, c, k] - mean) * inv
                    dx[n, c, k] = scale * (dout[n, c, k] - sb / m - xhat * sg / m)
                else:
                    dx[n, c, k] = scale * dout[n, c, k]


# ---- v2: one warp-sized block per channel ----------------------------------------------------
@cuda.jit
def _fwd_v2(x, gamma, beta, rmean, rvar, momentum, eps, training, mean_out, inv_out, out):
    buf = cuda.shared.array(RTPB, dtype=float64)
    c = cuda.blockIdx.x
    t = cuda.threadIdx.x
    N, C, P = x.shape
    m = N * P
    if training:
        acc = 0.0
        for e in range(t, m, RTPB):                  # element e of the channel: (n, k) = divmod(e, P)
            acc += float64(x[e // P, c, e % P])
        mean = block_sum(buf, acc) / m
        acc = 0.0
        for e in range(t, m, RTPB):
            d = x[e // P, c, e % P] - mean
            acc += d * d
        var = block_sum(buf, acc) / m
        if t == 0:
            rmean[c] = momentum * rmean[c] + (1.0 - momentum) * mean
            rvar[c] = momentum * rvar[c] + (1.0 - momentum) * var
    else:
        mean = float64(rmean[c])
        var = float64(rvar[c])
    inv = 1.0 / math.sqrt(var + eps)
    if t == 0:
        mean_out[c] = mean
        inv_out[c] = inv
    for e in range(t, m, RTPB):
        n, k = e // P, e % P
        out[n, c, k] = gamma[c] * ((x[n, c, k] - mean) * inv) + beta[c]


@cuda.jit
def _bwd_v2(x, dout, gamma, mean_in, inv_in, training, dx, dgamma, dbeta):
    buf = cuda.shared.array(RTPB, dtype=float64)
    c = cuda.blockIdx.x
    t = cuda.threadIdx.x
    N, C, P = x.shape
    m = N * P
    mean, inv = mean_in[c], inv_in[c]
    sb = 0.0
    sg = 0.0
    for e in range(t, m, RTPB):
        n, k = e // P, e % P
        sb += float64(dout[n, c, k])
        sg += dout[n, c, k] * ((x[n, c, k] - mean) * inv)
    sb = block_sum(buf, sb)
    sg = block_sum(buf, sg)
    if t == 0:
        dbeta[c] = sb
        dgamma[c] = sg
    scale = gamma[c] * inv
    for e in range(t, m, RTPB):
        n, k = e // P, e % P
        if training:
            xhat = (x[n, c, k] - mean) * inv
            dx[n, c, k] = scale * (dout[n, c, k] - sb / m - xhat * sg / m)
        else:
            dx[n, c, k] = scale * dout[n, c, k]


def _make(version, fwd, bwd):
    def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training):
        # x (N, C, H, W) or (N, C); gamma, beta, running_mean, running_var (C,)
        x, gamma, beta = on_device(x), on_device(gamma), on_device(beta)
        C = x.shape[1]
        out = empty(x.shape, x.dtype)
        mean = empty((C,), "float64")
        inv = empty((C,), "float64")
        launch = fwd[blocks(C), TPB] if version == 1 else fwd[C, RTPB]
        with writeback(running_mean, running_var) as (rmean, rvar):
            launch(_view(x), gamma, beta, rmean, rvar, x.dtype.type(momentum), float(eps),
                   bool(training), mean, inv, _view(out))
        return out, (x, gamma, mean, inv, bool(training))

    def batchnorm_backward(dout, cache):
        # dout like x -> dx like x, dgamma (C,), dbeta (C,)
        x, gamma, mean, inv, training = cache
        dout = on_device(dout)
        C = x.shape[1]
        dx = empty(x.shape, x.dtype)
        dgamma, dbeta = empty((C,), x.dtype), empty((C,), x.dtype)
        launch = bwd[blocks(C), TPB] if version == 1 else bwd[C, RTPB]
        launch(_view(x), _view(dout), gamma, mean, inv, training, _view(dx), dgamma, dbeta)
        return dx, dgamma, dbeta

    # batchnorm_relu: composed from the two device kernels (not fused on the GPU yet)
    ops = {"batchnorm_forward": batchnorm_forward, "batchnorm_backward": batchnorm_backward,
           **composed("batchnorm", batchnorm_forward, batchnorm_backward, activations.relu_forward,
                      activations.relu_backward)}
    for fn in ops.values():
        fn.__name__ += f"_v{version}"
    return ops


VERSIONS = {1: _make(1, _fwd_v1, _bwd_v1), 2: _make(2, _fwd_v2, _bwd_v2)}
DEFAULT = 2


def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training):
    return VERSIONS[active("cuda.batchnorm", DEFAULT)]["batchnorm_forward"](
        x, gamma, beta, running_mean, running_var, momentum, eps, training)


def batchnorm_backward(dout, cache):
    return VERSIONS[active("cuda.batchnorm", DEFAULT)]["batchnorm_backward"](dout, cache)


def batchnorm_relu_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training):
    return VERSIONS[active("cuda.batchnorm", DEFAULT)]["batchnorm_relu_forward"](
        x, gamma, beta, running_mean, running_var, momentum, eps, training)


def batchnorm_relu_backward(dout, cache):
    return VERSIONS[active("cuda.batchnorm", DEFAULT)]["batchnorm_relu_backward"](dout, cache)
