"""Issue 9 on the model side: frozen layers stay frozen (9), float64 dout at the boundary
(11), built at construction and count_params of an unbuilt layer (12), weights validated before
any is assigned (13), the truth about the weights after an overflow (18)."""
import numpy as np
import pytest
from models_data import digits_like

import tinydl as td
from tinydl import layers, optimizers


def test_a_frozen_layer_moves_to_non_trainable_and_stays_unchanged_through_fit():
    x, y = digits_like(256, seed=0)
    frozen = layers.Dense(16, activation="relu")
    model = td.Sequential([layers.Input((64,)), frozen, layers.BatchNormalization(), layers.Dense(10)])
    frozen.trainable = False
    assert frozen.trainable_weights == [] and len(frozen.non_trainable_weights) == 2
    assert all(any(p is q for q in model.non_trainable_weights) for p in frozen.weights)
    # BatchNormalization's moving statistics stay non-trainable; gamma and beta train
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 4
    before = frozen.get_weights()
    others = model.layers[2].get_weights()
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    for w0, w1 in zip(before, frozen.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)
    assert not np.array_equal(others[0], model.layers[2].get_weights()[0])   # the rest trains
    frozen.trainable = True
    assert len(model.trainable_weights) == 6


def test_freezing_a_whole_model(capsys):
    inner = td.Sequential([layers.Input((3,)), layers.Dense(4)])
    inner.trainable = False
    x = td.Input((3,))
    model = td.Model(x, layers.Dense(1)(inner(x)))
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    model.summary()
    assert "Non-trainable params: 16" in capsys.readouterr().out


def test_float64_dout_is_cast_at_the_model_and_layer_boundary():
    model = td.Sequential([layers.Input((2,)), layers.Dense(3), layers.Dense(1)])
    x = np.array([[1.0, 2.0]], np.float32)
    out = model.forward(x, training=True)
    y = np.array([[0.5]])                                  # float64, as the seed's exercise
    dx = model.backward(2 * (out - y))                    # a float64 dout
    assert dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.trainable_weights)
    dense = layers.Dense(2)
    dense(x)
    assert dense.backward(np.ones((1, 2), np.float64)).dtype == np.float32
    from tinydl import ops
    _, cache = ops.dense_forward(x, np.zeros((2, 2), np.float32))
    with pytest.raises(TypeError, match="dtype float32"):   # the ops stay strict
        ops.dense_backward(np.ones((1, 2)), cache)


def test_a_model_from_input_has_weights_at_once_and_an_unbuilt_layer_cannot_count():
    model = td.Sequential([layers.Input((3,)), layers.Dense(2)])
    assert [w.shape for w in model.get_weights()] == [(3, 2), (2,)]
    model.set_weights([np.ones((3, 2)), np.zeros(2)])
    np.testing.assert_array_equal(model.predict(np.ones((1, 3))), [[3.0, 3.0]])
    with pytest.raises(ValueError, match="not built"):
        layers.Dense(2).count_params()
    lazy = td.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="needs a built model"):
        lazy.count_params()


@pytest.mark.parametrize("bad", [
    lambda ws: ws[:-1] + [np.array(["a", "b"])],                       # strings, right shape
    lambda ws: ws[:-1] + [np.zeros((3,))],                              # wrong shape
    lambda ws: ws[:-1],                                                 # too few
])
def test_set_weights_validates_every_array_before_assigning_any(bad):
    model = td.Sequential([layers.Input((3,)), layers.Dense(4), layers.Dense(2)])
    before = model.get_weights()
    new = [np.ones_like(w) for w in before]
    with pytest.raises((ValueError, TypeError)):
        model.set_weights(bad(new))
    for w0, w1 in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)
    with pytest.raises((ValueError, TypeError)):
        model.layers[1].set_weights([np.ones((4, 2)), np.array(["x", "y"])])
    np.testing.assert_array_equal(model.layers[1].get_weights()[0], before[2])


def test_load_weights_with_a_string_array_changes_nothing(tmp_path):
    model = td.Sequential([layers.Input((3,)), layers.Dense(4), layers.Dense(2)])
    path = tmp_path / "w.npz"
    before = model.get_weights()
    arrays = {f"w{i:04d}": np.ones_like(w) for i, w in enumerate(before)}
    arrays["w0003"] = np.array(["a", "b"])
    np.savez(path, __architecture__=np.array(["Dense", "Dense"]), **arrays)
    with pytest.raises(TypeError, match="castable"):
        model.load_weights(path)
    for w0, w1 in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)


def _nonfinite(model):
    return sum(1 for w in model.get_weights() if not np.isfinite(w).all())


def test_after_an_overflow_fit_says_what_is_true_about_the_weights():
    x = np.ones((64, 4), np.float32)
    y = np.ones((64, 1), np.float32)
    # a huge step overflows the float32 weights while that step's loss was still finite
    model = td.Sequential([layers.Input((4,)), layers.Dense(1)])
    model.compile(optimizer=optimizers.SGD(1e38), loss="mse")
    with pytest.raises(ValueError, match=r"the loss became .* at epoch 1, batch 2") as err:
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    bad = _nonfinite(model)
    assert bad > 0
    assert f"{bad} of 2 weight arrays already hold inf or NaN" in str(err.value)
    assert "left as before" not in str(err.value)
    # finite weights whose output overflows: the update is skipped, the weights are still finite
    model = td.Sequential([layers.Input((4,)), layers.Dense(1)])
    model.set_weights([np.full((4, 1), 3e38, np.float32), np.zeros(1, np.float32)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="update was skipped and every weight is still finite"):
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert _nonfinite(model) == 0


def _frozen_bn(C=3):
    bn = layers.BatchNormalization()
    bn._ensure_built((C,), np.float64)
    bn.moving_mean.value[...] = [1.0, -2.0, 0.5]
    bn.moving_variance.value[...] = [4.0, 0.25, 1.0]
    bn.gamma.value[...] = [2.0, 1.0, -1.0]
    bn.beta.value[...] = [0.0, 1.0, 3.0]
    bn.trainable = False
    return bn


def test_a_frozen_batch_norm_uses_and_keeps_its_moving_statistics_in_training():
    bn = _frozen_bn()
    x = np.array([[3.0, -2.0, 0.5], [1.0, -1.0, 2.5]])
    # inference: gamma (x - moving_mean) / sqrt(moving_var + eps) + beta, worked by hand with eps
    eps = bn.epsilon
    want = np.array([2.0, 1.0, -1.0]) * (x - [1.0, -2.0, 0.5]) / np.sqrt(np.array([4.0, 0.25, 1.0]) + eps) \
        + [0.0, 1.0, 3.0]
    out = bn(x, training=True)
    np.testing.assert_allclose(out, want, rtol=1e-12)
    np.testing.assert_array_equal(bn.moving_mean.value, [1.0, -2.0, 0.5])
    np.testing.assert_array_equal(bn.moving_variance.value, [4.0, 0.25, 1.0])
    # backward is the inference map's: dx = dout * gamma / sqrt(moving_var + eps)
    dout = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 1.0]])
    dx = bn.backward(dout)
    np.testing.assert_allclose(dx, dout * np.array([2.0, 1.0, -1.0]) / np.sqrt(np.array([4.0, 0.25, 1.0]) + eps),
                               rtol=1e-12)
    bn.trainable = True                                   # unfrozen: batch statistics again
    out = bn(x, training=True)
    np.testing.assert_allclose(out.mean(axis=0), [0.0, 1.0, 3.0], atol=1e-12)


def test_freezing_a_model_freezes_the_layers_inside_and_its_batch_norm_stops_moving():
    x, y = digits_like(128, seed=1)
    inner = td.Sequential([layers.Input((64,)), layers.Dense(16), layers.BatchNormalization()])
    model = td.Sequential([layers.Input((64,)), inner, layers.Dense(10)])
    inner.trainable = False
    assert [layer.trainable for layer in inner.layers] == [False, False]
    moving = [w.copy() for w in inner.layers[1].get_weights()[2:]]
    model.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    for w0, w1 in zip(moving, inner.layers[1].get_weights()[2:], strict=True):
        np.testing.assert_array_equal(w0, w1)
    inner.trainable = True
    assert [layer.trainable for layer in inner.layers] == [True, True]
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert not np.array_equal(moving[0], inner.layers[1].get_weights()[2])
