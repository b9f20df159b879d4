"""Synchronized batch norm: the batch statistics of the global batch, summed across the ranks.

    forward (training), per channel c, over every rank's (N, H, W):
        S1  = allreduce_sum(sum(x)),  M = allreduce_sum(count)     mean = S1 / M
        S2  = allreduce_sum(sum((x - mean)^2))                     var  = S2 / M   (biased)
        xhat = (x - mean) / sqrt(var + eps),  out = gamma * xhat + beta
        moving = momentum * moving + (1 - momentum) * batch        (the same on every rank)
    backward:
        D1 = allreduce_sum(sum(dout)),  D2 = allreduce_sum(sum(dout * xhat))
        dx = gamma / sqrt(var + eps) * (dout - D1 / M - xhat * D2 / M)
        dgamma, dbeta: this rank's sums (the optimizer averages them across ranks like any gradient)

With N ranks holding the N slices of one batch this is exactly one process's batch norm on the
whole batch (kernels/reference/batchnorm.py, whose formulas these are). Two passes for the
variance (mean first) as the reference does: E[x^2] - mean^2 in one pass loses float32 digits.
The arithmetic is NumPy on the host (a cuda array is staged through it), like the collectives:
three small allreduces of (C,) vectors per layer and step, and the map itself.
Inference needs no communication: it is the ordinary op with the moving statistics.
"""
from typing import NamedTuple

import numpy as np

from tinydl import device as _device
from tinydl import ops
from tinydl.distributed import collectives as _coll
from tinydl.ops import _checks


class SyncCache(NamedTuple):
    xhat: np.ndarray
    gamma: np.ndarray
    inv_std: np.ndarray
    count: float
    on_device: bool


def _axes(ndim):
    return (0, 2, 3) if ndim == 4 else (0,)


def _per_channel(v, ndim):
    return v[None, :, None, None] if ndim == 4 else v[None, :]


def _sum_all(*vectors):
    """The element-wise sums over the ranks of the given 1-D float64 vectors (one Allreduce)."""
    world = _coll.init()
    flat = np.concatenate([np.asarray(v, np.float64).reshape(-1) for v in vectors])
    if world.size > 1:
        from mpi4py import MPI
        world.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
    return np.split(flat, np.cumsum([np.size(v) for v in vectors])[:-1])


def _check(x, gamma, beta, running_mean, running_var):
    """batchnorm_forward's checks: x (N, C, H, W) or (N, C) float, the rest (C,) of x's dtype."""
    _checks.ndim(x, "batchnorm input x (N, C, H, W) or (N, C)", (2, 4))
    if np.dtype(x.dtype) not in _checks.FLOATS:
        raise TypeError(f"batchnorm input x must be float32 or float64; received dtype {x.dtype}")
    C = x.shape[1]
    for name, a in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
        _checks.shape_is(a, f"batchnorm {name}", (C,))
    _checks.same_dtype(x, gamma=gamma, beta=beta, running_mean=running_mean, running_var=running_var)
    if x.shape[0] < 1:
        raise ValueError(f"batchnorm in training needs at least one sample; received shape {tuple(x.shape)}")


def _assign(target, value):
    """target[...] = value, in place, on the host or the device."""
    if _device.is_device_array(target):
        target.copy_to_device(np.ascontiguousarray(value, dtype=target.dtype))
    else:
        target[...] = value


def sync_batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.99, eps=1e-3, training=True):
    """batchnorm_forward over the global batch of every rank (see the module docstring); the
    arguments and their checks are batchnorm_forward's. Returns out (like x) and a SyncCache."""
    if not training:                                   # the ordinary op: no communication
        return ops.batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training=False)
    _check(x, gamma, beta, running_mean, running_var)
    momentum = _checks.finite_float(momentum, "batchnorm momentum", 0.0, 1.0)
    eps = _checks.finite_float(eps, "batchnorm eps", 0.0, None, low_open=True)
    on_device = _device.is_device_array(x)
    xh = np.asarray(_device.to_numpy(x))
    dtype, axes, C = xh.dtype, _axes(xh.ndim), xh.shape[1]
    # step 1: global mean
    s1, m = _sum_all(xh.sum(axis=axes, dtype=np.float64), [xh.size // C])
    count = float(m[0])
    mean = s1 / count
    # step 2: global biased variance, around the global mean
    centered = xh - _per_channel(mean.astype(dtype), xh.ndim)
    (s2,) = _sum_all((centered.astype(np.float64) ** 2).sum(axis=axes))
    var = s2 / count
    # step 3: the moving statistics (the same values on every rank)
    rm, rv = _device.to_numpy(running_mean), _device.to_numpy(running_var)
    _assign(running_mean, momentum * rm + (1.0 - momentum) * mean.astype(dtype))
    _assign(running_var, momentum * rv + (1.0 - momentum) * var.astype(dtype))
    # step 4: normalize, scale and shift
    inv_std = (1.0 / np.sqrt(var + eps)).astype(dtype)
    g = np.asarray(_device.to_numpy(gamma), dtype)
    b = np.asarray(_device.to_numpy(beta), dtype)
    xhat = centered * _per_channel(inv_std, xh.ndim)
    out = (_per_channel(g, xh.ndim) * xhat + _per_channel(b, xh.ndim)).astype(dtype, copy=False)
    out = _device.to_device(out, "cuda") if on_device else out
    return out, SyncCache(xhat, g, inv_std, count, on_device)


def sync_batchnorm_backward(dout, cache):
    """dout (like x) -> dx (like x), dgamma (C,), dbeta (C,) of this rank."""
    if not isinstance(cache, SyncCache):
        return ops.batchnorm_backward(dout, cache)        # an inference forward's cache
    xhat, g, inv_std, count, on_device = cache
    dy = np.asarray(_device.to_numpy(dout))
    if dy.shape != xhat.shape or dy.dtype != xhat.dtype:
        raise ValueError(f"sync_batchnorm_backward: dout must have shape {xhat.shape} and dtype {xhat.dtype}; "
                         f"received shape {dy.shape} and dtype {dy.dtype}")
    axes, nd = _axes(dy.ndim), dy.ndim
    dbeta = dy.sum(axis=axes)
    dgamma = (dy * xhat).sum(axis=axes)
    d1, d2 = _sum_all(dbeta, dgamma)
    mean_dy, mean_dy_xhat = (d1 / count).astype(dy.dtype), (d2 / count).astype(dy.dtype)
    dx = _per_channel(g * inv_std, nd) * (dy - _per_channel(mean_dy, nd) - xhat * _per_channel(mean_dy_xhat, nd))
    dx = dx.astype(dy.dtype, copy=False)
    if on_device:
        dx, dgamma, dbeta = (_device.to_device(np.ascontiguousarray(a), "cuda") for a in (dx, dgamma, dbeta))
    return dx, dgamma, dbeta
