"""Batch normalization on the CPU.

x is viewed as (N, C, P) (P = H*W for images, 1 for (N, C) features); channel c's statistics run
over its N*P values. Sums accumulate in float64 whatever the input dtype; the batch variance is
two-pass (mean first, then the mean squared deviation), which stays exact where the one-pass
E[x^2] - E[x]^2 cancels. The backward recomputes xhat from x, the mean and 1/std instead of
keeping a second activation-sized array. Numbers: the reference CNN's four BN layers at batch
128, float32, forward + backward summed (benchmarks/bench_conv.py, shared 2-core machine): one
core's CPU time, and two threads' wall time under load 25. PyTorch: 53 ms on one core, 34 ms with
two threads.

v1  one thread, channel after channel: mean, variance, output, and in the backward the two sums
    (dbeta, dgamma) then dx: four sweeps over x per pass. 52 ms on one core, 52 ms with two
    threads.

v2  prange over channels (each task owns a channel, so the moving statistics and the per-channel
    sums need no reduction across threads), and the backward fuses dbeta and dgamma into one
    sweep. 42 ms on one core, 32 ms with two threads (1.07x PyTorch's speed).

batchnorm_relu: ReLU(batchnorm(x)) as one op, for a BatchNormalization followed by a plain ReLU
(the model fuses the pair: tinydl/models/functional.py, relu_plan). v2 writes max(y, 0) in
the normalizing sweep and reads the ReLU's mask y > 0 inside its backward sweeps, so the ReLU's
own pass over the activation (forward and backward) and its cache are gone; v1 masks dout as a
copy first.
"""
import math

import numpy as np
from numba import njit, prange

from tinydl.kernels._versions import active


@njit(cache=True, inline="always")
def _stats(x, c):
    # mean and biased variance of channel c of x (N, C, P), two passes, in float64
    N, _, P = x.shape
    acc = 0.0
    for n in range(N):
        for k in range(P):
            acc += x[n, c, k]
    mean = acc / (N * P)
    acc = 0.0
    for n in range(N):
        for k in range(P):
            d = x[n, c, k] - mean
            acc += d * d
    return mean, acc / (N * P)


@njit(cache=True, inline="always")
def _forward_channel(x, c, gamma, beta, rmean, rvar, momentum, eps, training, relu, out, mean_out, inv_out):
    if training:
        mean, var = _stats(x, c)
        rmean[c] = momentum * rmean[c] + (1.0 - momentum) * mean
        rvar[c] = momentum * rvar[c] + (1.0 - momentum) * var
    else:
        mean, var = float(rmean[c]), float(rvar[c])
    inv = 1.0 / math.sqrt(var + eps)
    scale = gamma[c] * inv
    shift = beta[c] - mean * scale
    N, _, P = x.shape
    for n in range(N):
        for k in range(P):
            v = x[n, c, k] * scale + shift               # = gamma * (x - mean) * inv + beta
            out[n, c, k] = 0.0 if relu and v <= 0.0 else v   # fused ReLU (NaN passes, as np.maximum)
    mean_out[c] = mean
    inv_out[c] = inv


@njit(cache=True, inline="always")
def _backward_channel(dout, x, c, gamma, mean, inv, training, dx, dgamma, dbeta, y, relu):
    # relu: the forward was ReLU(batchnorm(x)) with output y, so dout first goes through the
    # ReLU's mask y > 0 (read where it is used: no masked copy of dout is made)
    N, _, P = x.shape
    m = mean[c]
    s = inv[c]
    # step 1: dbeta = sum(dout), dgamma = sum(dout * xhat), one sweep
    sb = 0.0
    sg = 0.0
    for n in range(N):
        for k in range(P):
            g = dout[n, c, k]
            if relu:
                g = g if y[n, c, k] > 0.0 else 0.0
            sb += g
            sg += g * (x[n, c, k] - m) * s
    dbeta[c] = sb
    dgamma[c] = sg
    # step 2: dx = gamma*inv * (dout - mean(dout) - xhat * mean(dout * xhat)) in training
    scale = gamma[c] * s
    if training:
        a = sb / (N * P)
        b = sg / (N * P)
    else:
        a = 0.0
        b = 0.0
    for n in range(N):
        for k in range(P):
            g = dout[n, c, k]
            if relu:
                g = g if y[n, c, k] > 0.0 else 0.0
            if training:
                xhat = (x[n, c, k] - m) * s
                dx[n, c, k] = scale * (g - a - xhat * b)
            else:   # inference: an affine map of x, so a NaN in x does not reach dx
                dx[n, c, k] = scale * g


# -- v1: one thread, separate sweeps ---------------------------------------------------------
@njit(cache=True)
def _fwd_v1(x, gamma, beta, rmean, rvar, momentum, eps, training, relu, out, mean, inv):
    for c in range(x.shape[1]):
        _forward_channel(x, c, gamma, beta, rmean, rvar, momentum, eps, training, relu, out, mean, inv)


@njit(cache=True)
def _bwd_v1(dout, x, gamma, mean, inv, training, dx, dgamma, dbeta):
    N, C, P = x.shape
    for c in range(C):
        sb = 0.0
        for n in range(N):
            for k in range(P):
                sb += dout[n, c, k]
        sg = 0.0
        for n in range(N):
            for k in range(P):
                sg += dout[n, c, k] * (x[n, c, k] - mean[c]) * inv[c]
        dbeta[c] = sb
        dgamma[c] = sg
        a = sb / (N * P) if training else 0.0
        b = sg / (N * P) if training else 0.0
        for n in range(N):
            for k in range(P):
                xhat = (x[n, c, k] - mean[c]) * inv[c] if training else 0.0   # inference: affine
                dx[n, c, k] = gamma[c] * inv[c] * (dout[n, c, k] - a - xhat * b)


# -- v2: one channel per task, fused sums -------------------------------------------------------
@njit(parallel=True, cache=True)
def _fwd_v2(x, gamma, beta, rmean, rvar, momentum, eps, training, relu, out, mean, inv):
    for c in prange(x.shape[1]):
        _forward_channel(x, c, gamma, beta, rmean, rvar, momentum, eps, training, relu, out, mean, inv)


@njit(parallel=True, cache=True)
def _bwd_v2(dout, x, gamma, mean, inv, training, dx, dgamma, dbeta, y, relu):
    for c in prange(x.shape[1]):
        _backward_channel(dout, x, c, gamma, mean, inv, training, dx, dgamma, dbeta, y, relu)


def _bwd_v2_plain(dout, x, gamma, mean, inv, training, dx, dgamma, dbeta):
    _bwd_v2(dout, x, gamma, mean, inv, training, dx, dgamma, dbeta, x, False)   # (x: an unread y)


def _bwd_v2_relu(dout, x, gamma, mean, inv, training, dx, dgamma, dbeta, y):
    _bwd_v2(dout, x, gamma, mean, inv, training, dx, dgamma, dbeta, y, True)


def _bwd_v1_relu(dout, x, gamma, mean, inv, training, dx, dgamma, dbeta, y):
    # v1 keeps its separate sweeps: dout through the ReLU's mask first, as a copy
    _bwd_v1(np.where(y > 0, dout, 0).astype(dout.dtype), x, gamma, mean, inv, training, dx, dgamma, dbeta)


def _as3(a):
    # (N, C, H, W) or (N, C) -> the (N, C, P) view
    return a.reshape(a.shape[0], a.shape[1], -1)


def _make(fwd, bwd, bwd_relu):
    def _forward(x, gamma, beta, running_mean, running_var, momentum, eps, training, relu):
        out = np.empty_like(x)
        C = x.shape[1]
        mean = np.empty(C, dtype=np.float64)
        inv = np.empty(C, dtype=np.float64)
        fwd(_as3(x), gamma, beta, running_mean, running_var, momentum, eps, training, relu,
            _as3(out), mean, inv)
        return out, mean, inv

    def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training):
        # x (N, C, H, W) or (N, C); gamma, beta, running_mean, running_var (C,)
        out, mean, inv = _forward(x, gamma, beta, running_mean, running_var, momentum, eps, training, False)
        return out, (x, gamma, mean, inv, training)

    def batchnorm_backward(dout, cache):
        x, gamma, mean, inv, training = cache
        dx = np.empty_like(x)
        dgamma = np.empty_like(gamma)
        dbeta = np.empty_like(gamma)
        bwd(_as3(dout), _as3(x), gamma, mean, inv, training, _as3(dx), dgamma, dbeta)
        return dx, dgamma, dbeta

    def batchnorm_relu_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training):
        # ReLU(batchnorm(x)) in the same sweep; the output y is kept for the ReLU's mask
        out, mean, inv = _forward(x, gamma, beta, running_mean, running_var, momentum, eps, training, True)
        return out, (x, gamma, mean, inv, training, out)

    def batchnorm_relu_backward(dout, cache):
        x, gamma, mean, inv, training, y = cache
        dx = np.empty_like(x)
        dgamma = np.empty_like(gamma)
        dbeta = np.empty_like(gamma)
        bwd_relu(_as3(dout), _as3(x), gamma, mean, inv, training, _as3(dx), dgamma, dbeta, _as3(y))
        return dx, dgamma, dbeta

    return {"batchnorm_forward": batchnorm_forward, "batchnorm_backward": batchnorm_backward,
            "batchnorm_relu_forward": batchnorm_relu_forward, "batchnorm_relu_backward": batchnorm_relu_backward}


# -- dispatch ---------------------------------------------------------------------------------
VERSIONS = {1: _make(_fwd_v1, _bwd_v1, _bwd_v1_relu), 2: _make(_fwd_v2, _bwd_v2_plain, _bwd_v2_relu)}
DEFAULT = 2   # the fastest correct version


def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training):
    return VERSIONS[active("cpu.batchnorm", DEFAULT)]["batchnorm_forward"](
        x, gamma, beta, running_mean, running_var, momentum, eps, training)


def batchnorm_backward(dout, cache):
    return VERSIONS[active("cpu.batchnorm", DEFAULT)]["batchnorm_backward"](dout, cache)


def batchnorm_relu_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training):
    return VERSIONS[active("cpu.batchnorm", DEFAULT)]["batchnorm_relu_forward"](
        x, gamma, beta, running_mean, running_var, momentum, eps, training)


def batchnorm_relu_backward(dout, cache):
    return VERSIONS[active("cpu.batchnorm", DEFAULT)]["batchnorm_relu_backward"](dout, cache)
