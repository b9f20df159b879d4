"""Layer normalization in plain NumPy: the ground truth of kernels/cpu/layernorm.py.

Over the last axis, as Keras's LayerNormalization(axis=-1) and torch.nn.functional.layer_norm:
    mean = x.mean(-1); var = x.var(-1) (biased); xhat = (x - mean) / sqrt(var + eps)
    out  = xhat * gamma + beta
The op layer flattens the leading axes: x (R, E), gamma (E,), beta (E,).
"""
import numpy as np


def layernorm_forward(x, gamma, beta, eps):
    # x (R, E) -> out (R, E)
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * rstd
    out = (xhat * gamma + beta).astype(x.dtype)
    return out, (xhat, rstd, gamma)


def layernorm_backward(dout, cache):
    # dout (R, E) -> dx (R, E), dgamma (E,), dbeta (E,)
    xhat, rstd, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    # dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dout * gamma
    dxhat = dout * gamma
    dx = rstd * (dxhat - dxhat.mean(axis=1, keepdims=True)
                 - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    dt = dout.dtype
    return dx.astype(dt), dgamma.astype(dt), dbeta.astype(dt)
