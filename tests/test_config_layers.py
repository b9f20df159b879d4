"""get_config / from_config round trip of every layer tinydl.layers exports.

The list of classes comes from tinydl.layers itself: a new layer is tested the moment it is
exported, and fails here until it has an example below and a config that rebuilds it."""
import inspect
import json

import numpy as np
import pytest

import tinydl as td
from tinydl import initializers, layers
from tinydl.layers.base import Layer

# class name -> (constructor kwargs, input shape per sample or a list of them)
EXAMPLES = {
    "Dense": (dict(units=3, activation="relu", use_bias=False, kernel_initializer="he_uniform"), (4,)),
    "Flatten": ({}, (2, 3)),
    "Dropout": (dict(rate=0.25, seed=7), (5,)),
    "ReLU": ({}, (4,)),
    "LeakyReLU": (dict(negative_slope=0.1), (4,)),
    "Sigmoid": ({}, (4,)),
    "Tanh": ({}, (4,)),
    "GELU": ({}, (4,)),
    "Softmax": ({}, (4,)),
    "Conv2D": (dict(filters=2, kernel_size=(3, 2), strides=2, padding=(1, 0), activation="tanh",
                    kernel_initializer=initializers.torch_default()), (3, 7, 6)),
    "MaxPooling2D": (dict(pool_size=3, strides=2, padding="same"), (2, 7, 7)),
    "AveragePooling2D": (dict(pool_size=(2, 3), padding="valid"), (2, 6, 6)),
    "GlobalAveragePooling2D": ({}, (3, 4, 4)),
    "BatchNormalization": (dict(momentum=0.9, epsilon=1e-4), (3, 4, 4)),
    "LayerNormalization": (dict(epsilon=1e-5), (3, 4)),
    "Residual": (dict(block=[layers.Conv2D(2, 3, padding="same"), layers.BatchNormalization(), layers.ReLU()],
                      shortcut=layers.Conv2D(2, 1)), (3, 5, 5)),
    "MultiHeadAttention": (dict(num_heads=2, key_dim=3, value_dim=2, dropout=0.1, use_causal_mask=True),
                           (5, 4)),
    "PatchEmbedding": (dict(patch_size=2, embed_dim=5), (3, 4, 6)),
    "ClassToken": ({}, (3, 4)),
    "PositionalEmbedding": (dict(max_length=6), (4, 3)),
    "SequencePooling": (dict(mode="mean"), (4, 3)),
    "InputLayer": (dict(shape=(4,), dtype="float32"), (4,)),
    # the Keras layers (keras-layers), Rescaling and the merge layers
    "Activation": (dict(activation="tanh"), (4,)),
    "SiLU": ({}, (4,)),
    "ELU": (dict(alpha=0.5), (4,)),
    "SELU": ({}, (4,)),
    "Softplus": ({}, (4,)),
    "Reshape": (dict(target_shape=(2, 6)), (3, 4)),
    "GlobalMaxPooling2D": (dict(keepdims=True), (3, 4, 4)),
    "UpSampling2D": (dict(size=(2, 3)), (2, 3, 3)),
    "Embedding": (dict(input_dim=7, output_dim=3), (5,)),
    "Conv2DTranspose": (dict(filters=2, kernel_size=3, strides=2, padding="same"), (3, 4, 4)),
    "DepthwiseConv2D": (dict(kernel_size=3, depth_multiplier=2, padding="same"), (3, 5, 5)),
    "SeparableConv2D": (dict(filters=4, kernel_size=3, depth_multiplier=2), (3, 5, 5)),
    "Conv1D": (dict(filters=2, kernel_size=3, strides=2, padding="same"), (3, 7)),
    "RandomFlip": (dict(mode="horizontal", seed=3), (2, 4, 4)),
    "RandomCrop": (dict(height=3, width=2, seed=3), (2, 4, 4)),
    "Rescaling": (dict(scale=0.5, offset=-1.0), (3, 4)),
    "Add": ({}, [(3, 4), (3, 4)]),
    "Multiply": ({}, [(3, 4), (3, 4)]),
    "Average": ({}, [(3, 4), (3, 4), (3, 4)]),
    "Concatenate": (dict(axis=1), [(3, 4), (2, 4)]),
}
# layers whose input is not float data: a function of the generator making the batch
INPUTS = {"Embedding": lambda rng: rng.integers(0, 7, (2, 5))}


def exported_layer_classes():
    out = []
    for name in layers.__all__:
        obj = getattr(layers, name)
        if isinstance(obj, type) and issubclass(obj, Layer) and obj is not Layer:
            out.append(obj)
    return out


def _inputs(shape, rng):
    shapes = shape if isinstance(shape, list) else [shape]
    xs = [rng.normal(size=(2,) + tuple(s)).astype(np.float32) for s in shapes]
    return xs if isinstance(shape, list) else xs[0]


def _call(layer, x):
    return td.to_numpy(layer(x, training=False))


def _normal(config):
    return json.loads(json.dumps(config))   # tuples -> lists, as in a saved file


@pytest.mark.parametrize("cls", exported_layer_classes(), ids=lambda c: c.__name__)
def test_from_config_of_get_config_rebuilds_the_layer(cls):
    assert cls.__name__ in EXAMPLES, (
        f"{cls.__name__} is exported by tinydl.layers but has no example in "
        "tests/test_config_layers.py EXAMPLES: add one (constructor kwargs, input shape)")
    kwargs, shape = EXAMPLES[cls.__name__]
    rng = np.random.default_rng(0)
    layer = cls(**kwargs)
    x = INPUTS[cls.__name__](rng) if cls.__name__ in INPUTS else _inputs(shape, rng)
    y = _call(layer, x)
    config = layer.get_config()
    text = json.dumps(config)                       # JSON values only: no arrays, no objects

    # every constructor argument is in the config (a layer that forgets one fails here)
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    missing = [p.name for p in params if p.name not in config]
    assert not missing, f"{cls.__name__}.get_config() lacks constructor arguments {missing}"
    for key in ("name", "trainable", "dtype"):
        assert key in config
    assert config["name"] == layer.name and config["dtype"] == "float32"

    clone = cls.from_config(json.loads(text))
    # not built: from_config carries no weights (an InputLayer, which has none, is a graph's
    # source and built at construction, as in Keras)
    assert type(clone) is cls and clone.built == (cls is layers.InputLayer)
    assert _normal(clone.get_config()) == _normal(config)
    # built on the same input: the same weight shapes; with the same weights, the same output
    _call(clone, x)
    assert [p.shape for p in clone.weights] == [p.shape for p in layer.weights]
    assert [p.trainable for p in clone.weights] == [p.trainable for p in layer.weights]
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(_call(clone, x), y)
    assert _normal(clone.get_config()) == _normal(config)

    # and through the registry, by class name
    again = layers.deserialize(json.loads(json.dumps(layers.serialize(layer))))
    assert type(again) is cls and _normal(again.get_config()) == _normal(config)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", None])
def test_activation_names_round_trip_through_dense_and_conv(activation):
    for layer in (layers.Dense(2, activation=activation), layers.Conv2D(2, 1, activation=activation)):
        config = layer.get_config()
        assert config["activation"] == activation
        assert type(layer).from_config(config).get_config()["activation"] == activation


def test_an_activation_layer_passed_in_keeps_its_arguments():
    dense = layers.Dense(2, activation=layers.LeakyReLU(negative_slope=0.05))
    config = _normal(dense.get_config())
    assert config["activation"]["class_name"] == "LeakyReLU"
    clone = layers.Dense.from_config(config)
    assert isinstance(clone.activation, layers.LeakyReLU) and clone.activation.negative_slope == 0.05


def test_initializers_serialize_to_names_or_keras_dicts_and_back():
    assert initializers.serialize(initializers.glorot_uniform) == "glorot_uniform"
    assert initializers.serialize("he_normal") == "he_normal"
    vs = initializers.VarianceScaling(2.0, "fan_out", "normal")
    d = initializers.serialize(vs)
    assert d == {"class_name": "VarianceScaling",
                 "config": {"scale": 2.0, "mode": "fan_out", "distribution": "normal"}}
    assert initializers.deserialize(json.loads(json.dumps(d))) == vs
    assert initializers.deserialize("zeros") is initializers.zeros
    with pytest.raises(ValueError, match="cannot save this initializer"):
        initializers.serialize(lambda shape, dtype, rng: np.zeros(shape, dtype))
    with pytest.raises(ValueError, match="unknown initializer class 'Orthogonal'"):
        initializers.deserialize({"class_name": "Orthogonal", "config": {}})


def test_a_custom_initializer_function_is_saved_by_name_and_found_in_custom_objects():
    def halves(shape, dtype, rng):
        return np.full(shape, 0.5, dtype)

    config = layers.Dense(2, kernel_initializer=halves).get_config()
    assert config["kernel_initializer"] == "halves"
    with pytest.raises(ValueError, match="unknown initializer"):
        layers.Dense.from_config(config)
    clone = layers.deserialize({"class_name": "Dense", "config": config}, custom_objects={"halves": halves})
    clone(np.zeros((1, 3), np.float32))
    np.testing.assert_array_equal(clone.get_weights()[0], np.full((3, 2), 0.5, np.float32))


def test_an_unknown_class_name_says_to_pass_custom_objects():
    with pytest.raises(ValueError, match=r"unknown layer class 'Mystery'.*custom_objects"):
        layers.deserialize({"class_name": "Mystery", "config": {}})
    with pytest.raises(ValueError, match="class_name"):
        layers.deserialize(["Dense"])


def test_a_custom_layer_round_trips_with_custom_objects():
    class Scale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x, training=False):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    res = layers.Residual([Scale(3.0, name="s")])
    d = json.loads(json.dumps(layers.serialize(res)))
    with pytest.raises(ValueError, match="'Scale'"):
        layers.deserialize(d)
    clone = layers.deserialize(d, custom_objects={"Scale": Scale})
    assert isinstance(clone.block[0], Scale) and clone.block[0].factor == 3.0 and clone.block[0].name == "s"


def test_float64_layer_records_its_dtype():
    dense = layers.Dense(2)
    dense(np.zeros((1, 3)))
    config = dense.get_config()
    assert config["dtype"] == "float64"
    assert layers.Dense.from_config(config).dtype == np.float64
