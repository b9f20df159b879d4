"""MultiHeadAttention: gradcheck (self and cross attention, causal, masks), PyTorch parity,
causality, dropout, bad input."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers


def x64(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("causal", [False, True])
def test_self_attention_gradcheck(causal):
    mha = layers.MultiHeadAttention(2, 3, use_causal_mask=causal)
    assert td.gradcheck(mha, x64(2, 5, 6))


def test_gradcheck_with_mask_and_value_dim():
    mask = np.random.default_rng(1).random((2, 5, 5)) > 0.3
    mha = layers.MultiHeadAttention(3, 2, value_dim=4, use_causal_mask=True)

    class Masked:
        weights = property(lambda self: mha.weights)
        trainable_weights = property(lambda self: mha.trainable_weights)
        zero_grad = mha.zero_grad
        backward = mha.backward

        def __call__(self, x, training=False):
            return mha(x, attention_mask=mask, training=training)

    assert td.gradcheck(Masked(), x64(2, 5, 7))


class _Cross:
    """gradcheck sees every input gradient of a cross-attention call through backward_all."""

    def __init__(self, mha, with_key):
        self.mha, self.with_key = mha, with_key
        self.zero_grad = mha.zero_grad

    weights = property(lambda self: self.mha.weights)
    trainable_weights = property(lambda self: self.mha.trainable_weights)

    def __call__(self, *xs, training=False):
        return self.mha(*xs, training=training)

    def backward(self, dout):
        dq, dv, dk = self.mha.backward_all(dout)
        return [dq, dv, dk] if self.with_key else [dq, dv]


@pytest.mark.parametrize("with_key", [False, True])
def test_cross_attention_gradcheck(with_key):
    mha = layers.MultiHeadAttention(2, 3, value_dim=2)
    inputs = [x64(2, 4, 5, seed=1), x64(2, 6, 3, seed=2)] + ([x64(2, 6, 7, seed=3)] if with_key else [])
    assert td.gradcheck(_Cross(mha, with_key), inputs)
    assert mha.dkey is None if not with_key else mha.dkey.shape == (2, 6, 7)


def test_in_residual_pre_norm_block_gradcheck():
    block = layers.Residual([layers.LayerNormalization(), layers.MultiHeadAttention(2, 4)])
    assert td.gradcheck(block, x64(2, 5, 6))


def test_weights_follow_keras_layouts():
    mha = layers.MultiHeadAttention(4, 8, value_dim=5)
    out = mha(np.zeros((2, 3, 10), np.float32), np.zeros((2, 7, 6), np.float32))
    assert out.shape == (2, 3, 10) and out.dtype == np.float32
    assert [w.shape for w in mha.weights] == [(10, 4, 8), (4, 8), (6, 4, 8), (4, 8), (6, 4, 5), (4, 5), (4, 5, 10), (10,)]
    assert mha.count_params() == 10 * 32 + 32 + 6 * 32 + 32 + 6 * 20 + 20 + 20 * 10 + 10


def test_torch_parity():
    torch = pytest.importorskip("torch")
    E, H = 8, 2
    x = x64(3, 5, E)
    mask = np.random.default_rng(4).random((5, 5)) > 0.3
    mask[:, 0] = True
    mha = layers.MultiHeadAttention(H, E // H)
    out = mha(x, attention_mask=mask, training=True)
    dout = x64(3, 5, E, seed=9)
    dx = mha.backward(dout)
    wq, bq, wk, bk, wv, bv, wo, bo = mha.get_weights()
    ref = torch.nn.MultiheadAttention(E, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.tensor(np.concatenate([w.reshape(E, E).T for w in (wq, wk, wv)])))
        ref.in_proj_bias.copy_(torch.tensor(np.concatenate([b.reshape(-1) for b in (bq, bk, bv)])))
        ref.out_proj.weight.copy_(torch.tensor(wo.reshape(E, E).T))
        ref.out_proj.bias.copy_(torch.tensor(bo))
    tx = torch.tensor(x, requires_grad=True)
    tout, _ = ref(tx, tx, tx, attn_mask=torch.tensor(~mask), need_weights=False)   # torch: True = blocked
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mha.weights[0].grad.reshape(E, E).T, ref.in_proj_weight.grad[:E].numpy(), rtol=1e-9, atol=1e-12)


def test_causal_layer_ignores_the_future():
    mha = layers.MultiHeadAttention(2, 3, use_causal_mask=True)
    x = x64(1, 7, 4)
    y1 = mha(x)
    x2 = x.copy()
    x2[:, 4:] += 5.0
    y2 = mha(x2)
    np.testing.assert_array_equal(y1[:, :4], y2[:, :4])
    assert not np.allclose(y1[:, 4:], y2[:, 4:])


def test_dropout_only_in_training():
    mha = layers.MultiHeadAttention(2, 3, dropout=0.5)
    x = x64(2, 6, 4)
    a, b = mha(x), mha(x)
    np.testing.assert_array_equal(a, b)
    c = mha(x, training=True)
    assert not np.allclose(a, c)
    assert mha.backward(np.ones_like(c)).shape == x.shape


def test_bad_input():
    with pytest.raises(ValueError, match="Received: num_heads=0"):
        layers.MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match="Received: dropout=1.0"):
        layers.MultiHeadAttention(2, 4, dropout=1.0)
    mha = layers.MultiHeadAttention(2, 4)
    with pytest.raises(ValueError, match=r"same length.*\(1, 5, 3\).*\(1, 6, 3\)"):
        mha(np.zeros((1, 4, 3)), np.zeros((1, 6, 3)), np.zeros((1, 5, 3)))
    with pytest.raises(ValueError, match=r"3-D.*\(4, 3\)"):
        mha(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"attn_mask must broadcast.*\(1, 2, 4, 4\).*\(3, 3\)"):
        layers.MultiHeadAttention(2, 4)(np.zeros((1, 4, 3)), attention_mask=np.ones((3, 3), bool))


def test_packed_self_attention_projection_equals_three_projections(rng):
    """Self-attention runs q, k, v as one packed GEMM; passing the same array as value and key
    takes the three-GEMM path. Outputs and every gradient must agree."""
    x = rng.standard_normal((2, 5, 6))
    dout = rng.standard_normal((2, 5, 6))
    mha = layers.MultiHeadAttention(3, 2, value_dim=4)
    packed = mha(x, training=True)
    assert mha._packed
    dx_packed = mha.backward(dout)
    grads_packed = [p.grad.copy() for p in mha.weights]
    mha.zero_grad()
    three = mha(x, value=x, key=x, training=True)
    assert not mha._packed
    dq, dv, dk = mha.backward_all(dout)
    np.testing.assert_allclose(packed, three, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx_packed, dq + dv + dk, rtol=1e-10, atol=1e-12)
    for a, p in zip(grads_packed, mha.weights, strict=True):
        assert a.shape == p.shape and a.flags.c_contiguous
        np.testing.assert_allclose(a, p.grad, rtol=1e-10, atol=1e-12)
