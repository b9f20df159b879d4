"""Weight initializers, Keras names. Each: (shape, dtype, rng) -> np.ndarray.

fan_in / fan_out follow Keras: a Dense kernel (in, units) has fan_in=in, fan_out=units;
a Conv2D kernel (F, C, KH, KW) has fan_in=C*KH*KW, fan_out=F*KH*KW.
"""
import numpy as np


def _fans(shape):
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        receptive = shape[2] * shape[3]
        return shape[1] * receptive, shape[0] * receptive
    n = int(np.prod(shape)) if shape else 1
    return n, n


def zeros(shape, dtype, rng):
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype, rng):
    return np.ones(shape, dtype=dtype)


def normal(shape, dtype, rng, stddev=0.05):
    return rng.normal(0.0, stddev, size=shape).astype(dtype)


def glorot_uniform(shape, dtype, rng):
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def lecun_uniform(shape, dtype, rng):
    fan_in, _ = _fans(shape)
    limit = np.sqrt(3.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_uniform(shape, dtype, rng):
    fan_in, _ = _fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(shape, dtype, rng):
    # Keras draws from a normal truncated at two standard deviations
    fan_in, _ = _fans(shape)
    std = np.sqrt(2.0 / fan_in) / 0.87962566103423978
    out = rng.normal(0.0, std, size=shape)
    bad = np.abs(out) > 2 * std
    while bad.any():
        out[bad] = rng.normal(0.0, std, size=int(bad.sum()))
        bad = np.abs(out) > 2 * std
    return out.astype(dtype)


class VarianceScaling:
    """Keras's VarianceScaling: variance scale / n, n the fan_in, fan_out or their mean.
    VarianceScaling(1/3, "fan_in", "uniform") is PyTorch's default for nn.Linear and nn.Conv2d:
    U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="uniform"):
        if scale <= 0 or mode not in ("fan_in", "fan_out", "fan_avg") or distribution not in ("uniform", "normal"):
            raise ValueError(
                "VarianceScaling expects scale > 0, mode in ('fan_in', 'fan_out', 'fan_avg') and "
                f"distribution in ('uniform', 'normal'); received {scale!r}, {mode!r}, {distribution!r}"
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype, rng):
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * self.scale / n)
            return rng.uniform(-limit, limit, size=shape).astype(dtype)
        return rng.normal(0.0, np.sqrt(self.scale / n), size=shape).astype(dtype)


def torch_default():
    """PyTorch's default weight initialization for linear and convolution layers."""
    return VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


_BY_NAME = {
    "zeros": zeros,
    "ones": ones,
    "normal": normal,
    "random_normal": normal,
    "glorot_uniform": glorot_uniform,
    "lecun_uniform": lecun_uniform,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
}


def get(initializer):
    """A callable initializer from a Keras name or a callable (shape, dtype, rng) -> array."""
    if callable(initializer):
        return initializer
    if initializer not in _BY_NAME:
        raise ValueError(
            f"unknown initializer; expected one of {sorted(_BY_NAME)} or a callable; "
            f"received {initializer!r}"
        )
    return _BY_NAME[initializer]
