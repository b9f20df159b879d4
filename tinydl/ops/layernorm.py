"""Layer normalization ops (family "layernorm"), over the last axis.

    layernorm_forward(x, gamma, beta, eps=1e-3) -> out, cache
    layernorm_backward(dout, cache) -> dx, dgamma, dbeta

x (..., E), gamma (E,), beta (E,); biased variance, as Keras and PyTorch.
"""
import numpy as np

from tinydl import device as _device
from tinydl.ops import _checks


def layernorm_forward(x, gamma, beta, eps=1e-3):
    x = _checks.as_float(x, "x")
    gamma, beta = _checks.as_float(gamma, "gamma"), _checks.as_float(beta, "beta")
    _checks.same_dtype(x, gamma=gamma, beta=beta)
    if len(x.shape) < 1 or any(int(d) < 1 for d in x.shape):
        raise ValueError(f"x must have at least one axis and no empty axis; received shape {tuple(x.shape)}")
    E = int(x.shape[-1])
    _checks.shape_is(gamma, "gamma", (E,))
    _checks.shape_is(beta, "beta", (E,))
    eps = _checks.finite_float(eps, "eps", 0.0, None, low_open=True)
    shape = tuple(x.shape)
    R = 1
    for d in shape[:-1]:
        R *= int(d)
    out, cache = _device.backend("layernorm").layernorm_forward(x.reshape(R, E), gamma, beta, eps)
    return out.reshape(shape), (cache, shape, np.dtype(x.dtype))


def layernorm_backward(dout, cache):
    kcache, shape, dtype = cache
    dout = _checks.as_float(dout, "dout")
    _checks.shape_is(dout, "dout", shape)
    if np.dtype(dout.dtype) != dtype:
        raise TypeError(f"dout must have the forward's dtype {dtype}; received {np.dtype(dout.dtype)}")
    E = shape[-1]
    dx, dgamma, dbeta = _device.backend("layernorm").layernorm_backward(
        dout.reshape(-1, E), kcache)
    return dx.reshape(shape), dgamma, dbeta
