"""PatchEmbedding, ClassToken, PositionalEmbedding, SequencePooling: gradcheck, patch
arithmetic, conv equivalence, a tiny ViT in a Sequential, bad input."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers


def x64(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("layer,shape", [
    (lambda: layers.PatchEmbedding(2, 5), (2, 3, 4, 6)),
    (lambda: layers.ClassToken(), (2, 4, 5)),
    (lambda: layers.PositionalEmbedding(7), (2, 4, 5)),
    (lambda: layers.SequencePooling("cls"), (2, 4, 5)),
    (lambda: layers.SequencePooling("mean"), (2, 4, 5)),
])
def test_gradcheck(layer, shape):
    layer = layer()
    x = x64(*shape)
    layer(x)
    layer.set_weights([x64(*w.shape, seed=3) for w in layer.weights])   # a nonzero class token
    assert td.gradcheck(layer, x)


def test_patch_arithmetic_vit_base():
    pe = layers.PatchEmbedding(16, 768)
    out = pe(np.zeros((1, 3, 224, 224), np.float32))
    assert out.shape == (1, 196, 768)
    assert pe.compute_output_shape((3, 224, 224)) == (196, 768)
    assert pe.kernel.shape == (768, 768) and pe.count_params() == 768 * 768 + 768


def test_patch_embedding_is_a_strided_conv():
    torch = pytest.importorskip("torch")
    x = x64(2, 3, 8, 12)
    pe = layers.PatchEmbedding(4, 6)
    out = pe(x)
    w = pe.kernel.value.T.reshape(6, 3, 4, 4)
    conv = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(pe.bias.value), stride=4)
    np.testing.assert_allclose(out, conv.numpy().reshape(2, 6, 6).transpose(0, 2, 1), rtol=1e-10)


def test_class_token_and_positions():
    x = x64(2, 3, 4)
    ct = layers.ClassToken()
    y = ct(x)
    assert y.shape == (2, 4, 4) and ct.token.shape == (1, 1, 4)
    np.testing.assert_array_equal(y[:, 0], 0.0)
    np.testing.assert_array_equal(y[:, 1:], x)
    pos = layers.PositionalEmbedding(6)
    z = pos(y)
    np.testing.assert_allclose(z - y, np.broadcast_to(pos.embeddings.value[:4], (2, 4, 4)))
    pool = layers.SequencePooling("mean")
    np.testing.assert_allclose(pool(z), z.mean(axis=1))
    assert pool.compute_output_shape((4, 4)) == (4,)


def test_tiny_vit_trains_in_a_sequential():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0, :4].mean(axis=(1, 2)) > x[:, 0, 4:].mean(axis=(1, 2))).astype(np.int64)
    model = td.Sequential([
        layers.Input((1, 8, 8)),
        layers.PatchEmbedding(4, 8), layers.ClassToken(), layers.PositionalEmbedding(5),
        layers.Residual([layers.LayerNormalization(), layers.MultiHeadAttention(2, 4)]),
        layers.Residual([layers.LayerNormalization(), layers.Dense(16, activation="gelu"), layers.Dense(8)]),
        layers.LayerNormalization(), layers.SequencePooling("cls"), layers.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer=td.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]


def test_bad_input():
    with pytest.raises(ValueError, match=r"multiples of patch_size=4.*30x32"):
        layers.PatchEmbedding(4, 8)(np.zeros((1, 3, 30, 32)))
    with pytest.raises(ValueError, match="Received: patch_size=0"):
        layers.PatchEmbedding(0, 8)
    with pytest.raises(ValueError, match=r"max_length=3.*length 4"):
        layers.PositionalEmbedding(3)(np.zeros((1, 4, 2)))
    with pytest.raises(ValueError, match="Received: mode='max'"):
        layers.SequencePooling("max")
