"""Residual: identity and projection shortcuts, gradcheck, parameter counts of a basic and a
bottleneck block worked out by hand, shape errors."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers


def x64(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def test_identity_shortcut_adds_the_input():
    conv = layers.Conv2D(3, 3, padding="same")
    block = layers.Residual(conv)
    x = x64(2, 3, 5, 5)
    np.testing.assert_allclose(block(x), conv(x) + x, rtol=1e-12)
    dout = x64(2, 3, 5, 5, seed=1)
    block.zero_grad()
    dx = block.backward(dout)
    np.testing.assert_allclose(dx, conv.backward(dout) + dout, rtol=1e-12)


def test_gradcheck_basic_block():
    block = layers.Residual([layers.Conv2D(3, 3, padding="same"), layers.BatchNormalization(), layers.Tanh(),
                             layers.Conv2D(3, 3, padding="same")])
    assert td.gradcheck(block, x64(2, 3, 4, 5))


def test_gradcheck_projection_shortcut_stride_2():
    block = layers.Residual([layers.Conv2D(4, 3, strides=2, padding="same"), layers.BatchNormalization()],
                            shortcut=[layers.Conv2D(4, 1, strides=2), layers.BatchNormalization()])
    assert td.gradcheck(block, x64(2, 2, 6, 5))


def _basic(c_in, c):
    conv = lambda f, k, s=1: layers.Conv2D(f, k, strides=s, padding="same", use_bias=False)
    return layers.Residual([conv(c, 3, 2), layers.BatchNormalization(), layers.ReLU(), conv(c, 3), layers.BatchNormalization()],
                           shortcut=[conv(c, 1, 2), layers.BatchNormalization()])


def _bottleneck(c_in, c):
    conv = lambda f, k: layers.Conv2D(f, k, padding="same", use_bias=False)
    return layers.Residual([conv(c, 1), layers.BatchNormalization(), layers.ReLU(),
                            conv(c, 3), layers.BatchNormalization(), layers.ReLU(),
                            conv(4 * c, 1), layers.BatchNormalization()])


def test_parameter_counts_by_hand():
    # basic block 64 -> 128 at stride 2 (ResNet-18 conv3_1): 3x3 64->128, BN, 3x3 128->128, BN;
    # shortcut 1x1 64->128, BN. BN counts 4 per channel (gamma, beta, moving mean and variance).
    basic = 9 * 64 * 128 + 4 * 128 + 9 * 128 * 128 + 4 * 128 + 64 * 128 + 4 * 128
    assert basic == 230912
    block = _basic(64, 128)
    block(np.zeros((1, 64, 8, 8), np.float32))
    assert block.count_params() == basic
    # bottleneck 256 -> 64 -> 64 -> 256 (ResNet-50 conv2_2), identity shortcut
    bottleneck = 256 * 64 + 4 * 64 + 9 * 64 * 64 + 4 * 64 + 64 * 256 + 4 * 256
    assert bottleneck == 71168
    block = _bottleneck(256, 64)
    block(np.zeros((1, 256, 4, 4), np.float32))
    assert block.count_params() == bottleneck
    trainable = sum(p.size for p in block.trainable_weights)
    assert trainable == bottleneck - 2 * (64 + 64 + 256)
    model = td.Sequential([layers.Input((64, 8, 8)), _basic(64, 128), layers.GlobalAveragePooling2D(), layers.Dense(10)])
    assert model.count_params() == basic + 128 * 10 + 10


def test_shape_mismatch_is_reported():
    block = layers.Residual(layers.Conv2D(4, 3, padding="same"))
    with pytest.raises(ValueError, match=r"same shape; block gives \(4, 5, 5\), shortcut gives \(3, 5, 5\)"):
        block(np.zeros((1, 3, 5, 5)))


def test_bad_block():
    with pytest.raises(TypeError, match="Received: int"):
        layers.Residual([layers.ReLU(), 3])
