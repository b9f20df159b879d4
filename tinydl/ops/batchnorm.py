"""batchnorm_forward / batchnorm_backward: validate once, then dispatch to the active device."""
import numpy as np

from tinydl import device as _device
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward


def _moving(a, name, C, dtype):
    # the moving statistics are updated in place: they must already be right, no copies made
    if not _device.is_device_array(a) and not isinstance(a, np.ndarray):
        raise TypeError(f"batchnorm {name} must be an array (updated in place); received {type(a).__name__}")
    _checks.shape_is(a, f"batchnorm {name}", (C,))
    if np.dtype(a.dtype) != dtype:
        raise TypeError(f"batchnorm {name} must have the input's dtype {dtype}; received {np.dtype(a.dtype)}")
    if not _device.is_device_array(a) and not (a.flags.c_contiguous and a.flags.writeable):
        raise ValueError(f"batchnorm {name} must be a writeable contiguous array (updated in place)")
    return a


def _checked(x, gamma, beta, running_mean, running_var, momentum, eps, training):
    x = _checks.as_float(x, "batchnorm input x")
    _checks.ndim(x, "batchnorm input x (N, C, H, W) or (N, C)", (2, 4))
    _checks.nonempty(x, "batchnorm input x")
    C = x.shape[1]
    dtype = np.dtype(x.dtype)
    gamma = _checks.as_float(gamma, "batchnorm gamma")
    beta = _checks.as_float(beta, "batchnorm beta")
    _checks.same_dtype(x, gamma=gamma, beta=beta)
    _checks.shape_is(gamma, "batchnorm gamma", (C,))
    _checks.shape_is(beta, "batchnorm beta", (C,))
    running_mean = _moving(running_mean, "running_mean", C, dtype)
    running_var = _moving(running_var, "running_var", C, dtype)
    momentum = _checks.finite_float(momentum, "batchnorm momentum", 0.0, 1.0)
    eps = _checks.finite_float(eps, "batchnorm eps", 0.0, None, low_open=True)
    return x, gamma, beta, running_mean, running_var, momentum, eps, bool(training)


def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.99, eps=1e-3, training=True):
    """Normalize x (N, C, H, W) per channel over (N, H, W), or x (N, C) per feature over N.

    training: batch mean and biased batch variance; running_mean / running_var updated in place,
    moving = momentum * moving + (1 - momentum) * batch. Otherwise the moving statistics are used.
    Returns out (like x) and the cache for batchnorm_backward."""
    args = _checked(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    return run_forward("batchnorm", "batchnorm", *args)


def batchnorm_relu_forward(x, gamma, beta, running_mean, running_var, momentum=0.99, eps=1e-3, training=True):
    """ReLU(batchnorm_forward(x, ...)) as one op (a BatchNormalization followed by a ReLU, which
    a model fuses); the same arguments and checks. Returns out and the cache for
    batchnorm_relu_backward."""
    args = _checked(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    return run_forward("batchnorm", "batchnorm_relu", *args)


def batchnorm_backward(dout, cache):
    """dout (like x) -> dx (like x), dgamma (C,), dbeta (C,)."""
    dout = check_dout(dout, cache, "batchnorm", "batchnorm_backward dout")
    return run_backward("batchnorm", "batchnorm", cache, dout)


def batchnorm_relu_backward(dout, cache):
    """dout (like x) -> dx (like x), dgamma (C,), dbeta (C,), through the ReLU and the batch norm."""
    dout = check_dout(dout, cache, "batchnorm_relu", "batchnorm_relu_backward dout")
    return run_backward("batchnorm", "batchnorm_relu", cache, dout)
