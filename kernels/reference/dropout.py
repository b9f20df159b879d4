"""Inverted dropout, plain NumPy: the ground truth of kernels/cpu/dropout.py.

The mask is not drawn from a stateful generator: element i (its flat, C-order index) is kept
when u(seed, i) >= rate, where u is a counter-based hash (splitmix64) of the seed and the index
mapped to [0, 1). The same (seed, shape) gives the same mask on every device and every call,
and the backward pass can recompute it instead of storing it. Kept values are scaled by
1 / (1 - rate) so the expected output equals the input.

    key  = mix(seed)
    u_i  = (mix(key + (i + 1) * GOLDEN) >> 11) * 2^-53          (53 random bits -> [0, 1))
    mix(z): z = (z ^ z >> 30) * M1; z = (z ^ z >> 27) * M2; z ^ z >> 31    (all mod 2^64)
"""
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)


def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * M1
    z = (z ^ (z >> np.uint64(27))) * M2
    return z ^ (z >> np.uint64(31))


def uniform(seed, n):
    """u(seed, i) for i = 0 .. n-1: float64 in [0, 1)."""
    with np.errstate(over="ignore"):
        key = _mix(np.array([seed], dtype=np.uint64))[0]
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = _mix(key + i * GOLDEN)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def dropout_forward(x, rate, seed, training=True):
    # x (...) -> out (...): x / (1 - rate) where kept, 0 where dropped; identity (a copy) when
    # not training or rate == 0
    if not training or rate == 0:
        return x.copy(), None
    keep = (uniform(seed, x.size) >= rate).reshape(x.shape)
    scale = x.dtype.type(1 / (1 - rate))
    out = np.where(keep, x * scale, 0).astype(x.dtype)
    return out, (keep, scale)


def dropout_backward(dout, cache):
    # dx = dout / (1 - rate) where kept, 0 where dropped (the same mask as the forward)
    if cache is None:
        return dout.copy()
    keep, scale = cache
    return np.where(keep, dout * scale, 0).astype(dout.dtype)
