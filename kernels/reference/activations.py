"""Activations, plain NumPy: the ground truth of kernels/cpu/activations.py.

Each forward returns (out, cache); each backward takes (dout, cache) and returns dx.
Every array keeps the input's shape and dtype.
"""
import math

import numpy as np
from scipy.special import erf

_SQRT2 = math.sqrt(2.0)                    # python floats keep float32 math in float32
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def relu_forward(x):
    out = np.maximum(x, 0)
    return out, x


def relu_backward(dout, cache):
    x = cache
    return np.where(x > 0, dout, 0).astype(dout.dtype)


def leaky_relu_forward(x, negative_slope=0.3):
    slope = x.dtype.type(negative_slope)
    out = np.where(x > 0, x, slope * x)
    return out, (x, negative_slope)


def leaky_relu_backward(dout, cache):
    x, negative_slope = cache
    slope = dout.dtype.type(negative_slope)
    return np.where(x > 0, dout, slope * dout)


def sigmoid_forward(x):
    # stable for large |x|: exp is only ever taken of a non-positive number
    #   x >= 0: 1 / (1 + exp(-x))        x < 0: exp(x) / (1 + exp(x))
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, out


def sigmoid_backward(dout, cache):
    y = cache
    return dout * y * (1 - y)


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    y = cache
    return dout * (1 - y * y)


def gelu_forward(x):
    # exact GELU: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
    out = 0.5 * x * (1 + erf(x / _SQRT2))
    return out, x


def gelu_backward(dout, cache):
    # d/dx [x Phi(x)] = Phi(x) + x phi(x),   phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    x = cache
    cdf = 0.5 * (1 + erf(x / _SQRT2))
    pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
    return dout * (cdf + x * pdf)


def softmax_forward(x, axis=-1):
    # subtract the max along `axis` so exp never overflows
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    out = e / e.sum(axis=axis, keepdims=True)
    return out, (out, axis)


def softmax_backward(dout, cache):
    # dx = y * (dout - sum(dout * y))   along `axis` (the Jacobian-vector product of softmax)
    y, axis = cache
    return y * (dout - (dout * y).sum(axis=axis, keepdims=True))
