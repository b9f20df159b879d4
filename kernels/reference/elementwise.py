"""Elementwise helpers, plain NumPy: the ground truth of kernels/cpu/elementwise.py.

Layers and optimizers use these instead of writing arithmetic themselves, so the same layer
runs on every device: adding two branches, accumulating gradients, scaling, the squared norm
of a gradient, and summing a broadcast parameter's gradient down to the parameter's shape.
"""
import numpy as np


def add(a, b):
    # a, b (...) same shape -> a new array a + b
    return a + b


def accumulate(dst, src):
    # dst += src, in place (same shape)
    dst += src


def scale_(a, s):
    # a *= s, in place
    a *= a.dtype.type(s)


def sum_squares(a):
    # sum of a**2, accumulated in float64, as a python float
    a64 = a.astype(np.float64).ravel()
    return float(np.dot(a64, a64))


def sum_to(x, shape):
    # x (..., *shape) -> (*shape): sum over the leading axes that `shape` does not have
    size = int(np.prod(shape, dtype=np.int64))
    return x.reshape(-1, size).sum(axis=0).reshape(shape)
