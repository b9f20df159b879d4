"""Batch normalization, plain NumPy: the ground truth.

    training:  mu = mean(x), var = mean((x - mu)^2)   (biased), over every axis but the channel
               out = gamma * (x - mu) / sqrt(var + eps) + beta
               moving = momentum * moving + (1 - momentum) * batch     (Keras's rule, in place)
    inference: the same map with the moving mean and variance in place of the batch's

x is (N, C, H, W) (statistics per channel over N, H, W) or (N, C) (per feature over N).
"""
import numpy as np


def _axes(x):
    # the axes a channel's statistics run over
    return (0, 2, 3) if x.ndim == 4 else (0,)


def _per_channel(v, ndim):
    # (C,) -> broadcastable against x
    return v[None, :, None, None] if ndim == 4 else v[None, :]


def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training):
    # x (N, C, H, W) or (N, C); gamma, beta, running_mean, running_var (C,)
    axes = _axes(x)
    if training:
        # step 1: batch statistics (biased variance)
        mean = x.mean(axis=axes)
        var = ((x - _per_channel(mean, x.ndim)) ** 2).mean(axis=axes)
        # step 2: update the moving statistics in place
        running_mean *= momentum
        running_mean += (1.0 - momentum) * mean
        running_var *= momentum
        running_var += (1.0 - momentum) * var
    else:
        mean, var = running_mean.copy(), running_var.copy()
    # step 3: normalize, then scale and shift
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - _per_channel(mean, x.ndim)) * _per_channel(inv_std, x.ndim)
    out = _per_channel(gamma, x.ndim) * xhat + _per_channel(beta, x.ndim)
    return out.astype(x.dtype, copy=False), (xhat, gamma, inv_std, training)


def batchnorm_backward(dout, cache):
    # dout like x -> dx like x, dgamma (C,), dbeta (C,)
    xhat, gamma, inv_std, training = cache
    axes = _axes(xhat)
    m = xhat.size // xhat.shape[1]                 # elements per channel
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    scale = _per_channel(gamma * inv_std, xhat.ndim)
    if training:
        # the batch statistics depend on x too: remove dout's mean and its projection on xhat
        dx = scale * (dout - _per_channel(dbeta / m, xhat.ndim)
                      - xhat * _per_channel(dgamma / m, xhat.ndim))
    else:
        # inference: an affine map of x
        dx = scale * dout
    return dx.astype(dout.dtype, copy=False), dgamma, dbeta


def batchnorm_relu_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training):
    # ReLU(batchnorm(x)): what a BatchNormalization followed by a plain ReLU computes
    z, bn_cache = batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    return np.maximum(z, 0), (bn_cache, z)


def batchnorm_relu_backward(dout, cache):
    # through the ReLU (dout where z > 0), then through batch norm
    bn_cache, z = cache
    return batchnorm_backward(np.where(z > 0, dout, 0).astype(dout.dtype), bn_cache)
