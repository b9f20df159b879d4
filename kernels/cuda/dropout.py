"""Inverted dropout on the GPU (numba.cuda). One implementation, so no VERSIONS table.

One thread per element of the flat view. The mask is the reference's counter-based hash of
(seed, flat index) (splitmix64, kernels/reference/dropout.py):

    key  = mix(seed)
    u_i  = (mix(key + (i + 1) * GOLDEN) >> 11) * 2^-53          kept when u_i >= rate
    mix(z): z = (z ^ z >> 30) * M1; z = (z ^ z >> 27) * M2; z ^ z >> 31    (all mod 2^64)

so thread i needs nothing but its own index: no generator state shared between threads (the
reason cuRAND's Philox is counter-based too), the mask is bit-identical to the CPU's, and the
backward pass recomputes it instead of storing it (the cache holds three numbers). Every
operation is on uint64, so integer wrap-around is the modular arithmetic the hash means.
"""
import numpy as np
from numba import cuda, float64, uint64

from tinydl.kernels.cuda._launch import TPB, blocks, empty, flat, on_device, quiet_overflow

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 2.0 ** -53


@cuda.jit(device=True)
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@cuda.jit(device=True)
def unit(key, index):
    """u = (mix(key + (index + 1) * GOLDEN) >> 11) * 2^-53 in [0, 1), key = mix(seed).
    Attention's dropout (kernels/cuda/attention.py) draws from the same function."""
    z = _mix(key + uint64(index + 1) * _GOLDEN)
    return float64(z >> _S11) * _TO_UNIT


def seed_key(seed):
    """key = mix(seed), once per call on the host, as a uint64 (Numba types it so)."""
    z = np.uint64(seed)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        return z ^ (z >> _S31)


@cuda.jit
def _dropout(x, key, rate, scale, out):
    # out[i] = x[i] * scale if u(key, i) >= rate else 0   (x, out flat)
    i = cuda.grid(1)
    if i < x.size:
        out[i] = x[i] * scale if unit(key, i) >= rate else 0


def _apply(x, seed, rate, scale):
    out = empty(x.shape, x.dtype)
    if x.size:
        with quiet_overflow():
            _dropout[blocks(x.size), TPB](flat(x), seed_key(seed), float(rate), scale, flat(out))
    return out


def _copy(x):
    out = empty(x.shape, x.dtype)
    if x.size:
        out.copy_to_device(x)          # device to device
    return out


def dropout_forward(x, rate, seed, training=True):
    # x (...) -> out (...), cache; identity (a fresh copy) when not training or rate == 0
    x = on_device(x)
    if not training or rate == 0:
        return _copy(x), None
    scale = x.dtype.type(1 / (1 - rate))
    return _apply(x, seed, rate, scale), (seed, float(rate), scale)


def dropout_backward(dout, cache):
    # dx = dout * scale where kept (the forward's mask, recomputed), else 0
    dout = on_device(dout)
    if cache is None:
        return _copy(dout)
    seed, rate, scale = cache
    return _apply(dout, seed, rate, dout.dtype.type(scale))
