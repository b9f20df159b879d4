"""Inverted dropout with a counter-based mask: the same (seed, shape) gives the same mask on
every device (see kernels/reference/dropout.py)."""
import numpy as np

from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward

__all__ = ["dropout_forward", "dropout_backward"]


def dropout_forward(x, rate, seed, training=True):
    """Zero each element with probability ``rate`` (the mask hashed from ``seed`` and the element's
    index) and scale the rest by 1/(1-rate); a copy of x when ``training`` is False or rate == 0."""
    x = _checks.as_float(x, "x")
    rate = _checks.finite_float(rate, "rate", low=0.0, high=1.0, high_open=True)
    training = bool(training)
    if training and rate > 0:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
            raise ValueError(f"seed must be an int in [0, 2**64); received {seed!r}")
        seed = int(seed)
    return run_forward("dropout", "dropout", x, rate, seed, training)


def dropout_backward(dout, cache):
    dout = check_dout(dout, cache, "dropout")
    return run_backward("dropout", "dropout", cache, dout)
