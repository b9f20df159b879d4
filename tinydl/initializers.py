"""Weight initializers, Keras names. Each: (shape, dtype, rng) -> np.ndarray.

fan_in / fan_out follow Keras: a Dense kernel (in, units) has fan_in=in, fan_out=units;
a Conv2D kernel (F, C, KH, KW) has fan_in=C*KH*KW, fan_out=F*KH*KW.

Saved in a layer's config as their name ("glorot_uniform") or, for an initializer object, Keras's
{"class_name": "VarianceScaling", "config": {...}}: ``serialize`` / ``deserialize`` (and ``get``
takes either form back).
"""
import numpy as np

from tinydl import _config


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

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(other) is type(self) and other.get_config() == self.get_config()

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


_CLASSES = {"VarianceScaling": VarianceScaling}


def get(initializer, custom_objects=None):
    """A callable initializer from a Keras name, a serialized {"class_name", "config"}, or a
    callable (shape, dtype, rng) -> array."""
    if callable(initializer):
        return initializer
    if isinstance(initializer, dict):
        return deserialize(initializer, custom_objects)
    custom = _config.custom_objects(custom_objects)
    if isinstance(initializer, str) and initializer in custom:
        return custom[initializer]
    if not isinstance(initializer, str) or initializer not in _BY_NAME:
        raise ValueError(
            f"unknown initializer; expected one of {sorted(_BY_NAME)}, a serialized initializer "
            f"{{'class_name': ..., 'config': ...}} or a callable; received {initializer!r}"
        )
    return _BY_NAME[initializer]


def serialize(initializer):
    """What a layer's config holds for ``initializer``: its name, or {"class_name", "config"}
    for an object with ``get_config``. A lambda or a closure cannot be saved."""
    if isinstance(initializer, (str, dict)):
        return initializer
    for name, fn in _BY_NAME.items():
        if initializer is fn:
            return name
    if hasattr(initializer, "get_config"):
        return {"class_name": type(initializer).__name__, "config": initializer.get_config()}
    name = getattr(initializer, "__name__", "")
    if name.isidentifier():
        return name                             # a custom function: load it with custom_objects
    raise ValueError(
        "cannot save this initializer: expected a name, an object with get_config() or a named "
        f"function; received {initializer!r}"
    )


def deserialize(config, custom_objects=None):
    """The initializer for what ``serialize`` wrote; custom classes and functions by name from
    ``custom_objects``."""
    if isinstance(config, str):
        return get(config, custom_objects)
    if not isinstance(config, dict) or set(config) - {"class_name", "config", "module", "registered_name"} \
            or "class_name" not in config:
        raise ValueError(f"a serialized initializer must be a name or {{'class_name': ..., 'config': ...}}; "
                         f"received {config!r}")
    classes = {**_CLASSES, **_config.custom_objects(custom_objects)}
    name = config["class_name"]
    if name not in classes:
        raise ValueError(f"unknown initializer class {name!r}; expected one of {sorted(classes)} "
                         "(pass custom_objects={name: cls} for your own)")
    cls, cfg = classes[name], dict(config.get("config") or {})
    return cls.from_config(cfg) if hasattr(cls, "from_config") else cls(**cfg)
