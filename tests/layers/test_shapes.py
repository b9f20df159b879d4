"""Build-time shape checks (issue 9, item 6) and one argument format (np.int64 is an int)."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinydl as td
from tinydl import layers, optimizers
from tinydl._validate import conv_output_size
from tinydl.layers import _shapes

HINT = r"tinydl is channels-first \(NCHW\).*x\.transpose\(0, 3, 1, 2\)"


class _model:
    """A Sequential made on demand: one that starts with Input is built at construction, so
    the build-time error is raised by the constructor, which build() and summary() call here."""

    def __init__(self, *stack):
        self.stack = list(stack)
        self.layers = self.stack[1:]

    def build(self):
        return td.Sequential(self.stack)

    def summary(self):
        td.Sequential(self.stack).summary()


def test_channels_last_pooling_to_zero_is_refused_at_build_with_the_hint():
    # (32, 32, 3) read as (C, H, W): W = 3 -> 1 -> 0 after two 2x2 poolings
    model = _model(layers.Input((32, 32, 3)), layers.Conv2D(32, 3, padding="same", activation="relu"),
                   layers.MaxPooling2D(2), layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(10))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"max_pooling2d.*\(None, 32, 8, 0\).*\(None, 32, 16, 1\)"
                                             r".*looks channels-last \(H, W, C\)\. " + HINT):
            model.build()
        with pytest.raises(ValueError, match="looks channels-last"):
            model.summary()


def test_valid_conv_wider_than_the_image_is_refused_with_the_plain_hint():
    model = _model(layers.Input((1, 3, 3)), layers.Conv2D(4, 5))
    with pytest.raises(ValueError, match=r"conv2d.*\(None, 4, -1, -1\).*<= 0\. " + HINT) as err:
        model.build()
    assert "looks channels-last" not in str(err.value)      # (1, 3, 3) is a fine NCHW shape


def test_direct_call_is_refused_before_any_kernel():
    with pytest.raises(ValueError, match=HINT):
        layers.AveragePooling2D(4)(np.zeros((2, 28, 28, 1), np.float32))


def test_square_channels_last_input_warns_once_with_the_hint():
    model = _model(layers.Input((32, 32, 3)), layers.Conv2D(32, 3, padding="same"),
                   layers.Conv2D(32, 3, padding="same"))
    with pytest.warns(UserWarning, match=r"\(32, 32, 3\).*square image stored channels-last.*" + HINT) as rec:
        model.build()
    assert model.layers[0].compute_output_shape((32, 32, 3)) == (32, 32, 3)   # legal NCHW: built
    assert len({str(w.message) for w in rec}) == 1


@pytest.mark.parametrize("shape", [(64, 3, 3), (3, 32, 32), (1, 28, 28), (16, 7, 1), (8, 8, 8)])
def test_channels_first_shapes_do_not_warn(shape):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _model(layers.Input(shape), layers.Conv2D(4, 1), layers.MaxPooling2D(1)).build()


def test_the_rules():
    assert _shapes.looks_channels_last((32, 16, 1)) and _shapes.looks_channels_last((28, 28, 3))
    assert not _shapes.looks_channels_last((3, 32, 3)) and not _shapes.looks_channels_last((32, 3))
    assert _shapes.looks_hwc_square((28, 28, 1)) and not _shapes.looks_hwc_square((64, 3, 3))


def test_np_integers_are_ints_everywhere():
    i = np.int64
    assert layers.Dense(i(5)).units == 5 and type(layers.Dense(i(5)).units) is int
    assert layers.Conv2D(i(5), i(3)).kernel_size == (3, 3)
    assert layers.Input((i(3), i(4))).shape == (None, 3, 4)      # a symbolic tensor, as in Keras
    assert layers.MultiHeadAttention(i(2), i(4)).key_dim == 4
    assert layers.PatchEmbedding(i(4), i(8)).patch_size == 4
    assert optimizers.ExponentialDecay(0.1, i(10), 0.5).decay_steps == 10


@pytest.mark.parametrize("make, message", [
    (lambda: layers.Dense(0), "Dense: units must be a positive int. Received: units=0"),
    (lambda: layers.Conv2D(0, 3), "Conv2D: filters must be a positive int. Received: filters=0"),
    (lambda: layers.Conv2D(2, (3, 0)), "Conv2D: kernel_size must be an int >= 1 (and <= 2**31 - 1) "
                                       "or a pair of them. Received: kernel_size=(3, 0)"),
    (lambda: layers.MaxPooling2D(2, strides=0), "MaxPooling2D: strides must be an int >= 1 (and <= "
                                                "2**31 - 1) or a pair of them. Received: strides=0"),
    (lambda: layers.MultiHeadAttention(2, 4, value_dim=0), "MultiHeadAttention: value_dim must be a "
                                                           "positive int. Received: value_dim=0"),
    (lambda: layers.MultiHeadAttention(2, 4, dropout=1.0), "MultiHeadAttention: dropout must be in "
                                                           "[0.0, 1.0). Received: dropout=1.0"),
    (lambda: layers.LayerNormalization(epsilon=0), "LayerNormalization: epsilon must be > 0.0. "
                                                   "Received: epsilon=0"),
    (lambda: layers.BatchNormalization(momentum=2), "BatchNormalization: momentum must be in "
                                                    "[0.0, 1.0]. Received: momentum=2"),
    (lambda: layers.PositionalEmbedding(True), "PositionalEmbedding: max_length must be a positive "
                                               "int. Received: max_length=True"),
    (lambda: layers.LeakyReLU("a"), "LeakyReLU: negative_slope must be a number. "
                                    "Received: negative_slope='a'"),
])
def test_one_message_format(make, message):
    with pytest.raises(ValueError) as err:
        make()
    assert str(err.value) == message


# ---- shape fuzzing (hypothesis): the build-time shape is the run-time shape, or a clear error ---
@st.composite
def window_layers(draw):
    kind = draw(st.sampled_from(["conv", "max", "avg"]))
    window = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same"] + ([0, 1, (2, 1)] if kind == "conv" else [])))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    if kind == "conv":
        layer = layers.Conv2D(2, window, strides=strides, padding=padding)
    else:
        cls = layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D
        layer = cls(window, strides=strides, padding=padding)
    return layer, window, strides, padding, shape


def _expected(window, strides, padding, shape):
    _, H, W = shape
    if padding == "same":
        return [-(-H // strides[0]), -(-W // strides[1])]
    ph, pw = (0, 0) if padding == "valid" else ((padding, padding) if isinstance(padding, int) else padding)
    return [conv_output_size(H, window[0], strides[0], ph, ph), conv_output_size(W, window[1], strides[1], pw, pw)]


@settings(max_examples=60, deadline=None)
@given(window_layers())
def test_build_shape_equals_the_forward_shape_or_a_clear_error(case):
    layer, window, strides, padding, shape = case
    oh, ow = _expected(window, strides, padding, shape)
    x = np.random.default_rng(0).normal(size=(2,) + shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if oh <= 0 or ow <= 0:
            with pytest.raises(ValueError, match=r"axis of length <= 0\..*" + HINT):
                layer.compute_output_shape(shape)
            with pytest.raises(ValueError, match=HINT):
                layer(x)                       # refused at build time, before any kernel
            return
        predicted = layer.compute_output_shape(shape)
        assert predicted[1:] == (oh, ow)
        assert layer(x).shape[1:] == predicted


def test_channels_last_data_for_a_channels_first_model_gets_the_hint():
    model = _model(layers.Input((3, 8, 8)), layers.Flatten(), layers.Dense(2)).build()
    with pytest.raises(ValueError, match=r"expected input of shape \(None, 3, 8, 8\); received \(4, 8, 8, 3\)\. "
                                         r"The input shape \(8, 8, 3\) looks channels-last.*" + HINT):
        model.predict(np.zeros((4, 8, 8, 3), np.float32))
    with pytest.raises(ValueError) as err:
        model.predict(np.zeros((4, 3, 8, 9), np.float32))
    assert "channels-last" not in str(err.value)
