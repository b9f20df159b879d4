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


# ---- silu (swish), elu, selu, softplus: Keras 3's other activation names ----------------------
# SELU's constants (Klambauer et al. 2017), as Keras and PyTorch spell them
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def silu_forward(x):
    # silu(x) = swish(x) = x * sigmoid(x)
    return x * _sigmoid(x), x


def silu_backward(dout, cache):
    # d/dx [x s(x)] = s(x) (1 + x (1 - s(x)))
    x = cache
    s = _sigmoid(x)
    return dout * (s * (1 + x * (1 - s)))


def elu_forward(x, alpha=1.0):
    # x where x > 0, else alpha (exp(x) - 1); NaN takes the second branch and stays NaN
    a = x.dtype.type(alpha)
    out = np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))
    out = np.where(np.isnan(x), x, out)
    return out, (x, alpha)


def elu_backward(dout, cache):
    # 1 where x > 0, else alpha exp(x)
    x, alpha = cache
    a = dout.dtype.type(alpha)
    grad = np.where(x > 0, 1, a * np.exp(np.minimum(x, 0)))
    return (dout * np.where(np.isnan(x), x, grad)).astype(dout.dtype)


def selu_forward(x):
    # scale * elu(x, alpha) with the fixed SELU constants
    out, _ = elu_forward(x, SELU_ALPHA)
    return out * x.dtype.type(SELU_SCALE), x


def selu_backward(dout, cache):
    x = cache
    return elu_backward(dout, (x, SELU_ALPHA)) * dout.dtype.type(SELU_SCALE)


def softplus_forward(x):
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): exp never overflows
    out = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    return out, x


def softplus_backward(dout, cache):
    # d/dx softplus(x) = sigmoid(x)
    x = cache
    return dout * _sigmoid(x)
