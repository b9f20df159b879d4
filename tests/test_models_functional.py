"""Functional models: td.Input, graphs of layer calls, shared layers, several inputs and
outputs, nested models, fusion, feature extraction, summary, get_config."""
import json

import numpy as np
import pytest
from models_data import bars, digits_like

import tinydl as td
from tinydl import layers, losses, optimizers


def test_input_is_symbolic_and_a_layer_call_records_a_node():
    x = td.Input((1, 28, 28), name="pixels")
    assert x.shape == (None, 1, 28, 28) and x.dtype == np.float32
    h = layers.Conv2D(16, 3, activation="relu")(x)
    assert h.shape == (None, 16, 26, 26)
    assert layers.Input((3,)).shape == (None, 3)            # layers.Input is the same function
    conv = h.node.layer
    assert conv.built and conv.output is h and conv.input is x


def test_a_model_from_input_is_built_at_construction():
    inputs = td.Input((4,))
    outputs = layers.Dense(2)(layers.Dense(3, activation="relu")(inputs))
    model = td.Model(inputs=inputs, outputs=outputs, name="net")
    # (4*3 + 3) + (3*2 + 2)
    assert model.count_params() == 23 and len(model.get_weights()) == 4
    model.set_weights([np.ones_like(w) for w in model.get_weights()])
    x = np.array([[1.0, 0, 0, 0]], np.float32)
    # relu(1 + 1) = 2 in each of 3 units -> 3 * 2 + 1 = 7
    np.testing.assert_allclose(model.predict(x), [[7.0, 7.0]])
    assert model.name == "net" and "functional" in repr(model)


def test_functional_mlp_trains_on_an_mnist_like_set():
    x, y = digits_like(1200, seed=0)
    xt, yt = digits_like(400, seed=1)
    inputs = td.Input((64,))
    h = layers.Dense(64, activation="relu")(inputs)
    outputs = layers.Dense(10, activation="softmax")(h)
    model = td.Model(inputs, outputs)
    model.compile(optimizer=optimizers.Adam(0.003), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert model._fused == "activation"
    model.fit(x, y, batch_size=32, epochs=5, verbose=0)
    _, acc = model.evaluate(xt, yt)
    assert acc > 0.9                                         # chance is 0.1


def toy_resnet():
    inputs = td.Input((1, 8, 8))
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    y = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(8, 3, padding="same")(y)
    x = layers.ReLU()(layers.Add()([x, y]))                 # x fans out: the block and the skip
    outputs = layers.Dense(3)(layers.GlobalAveragePooling2D()(x))
    return td.Model(inputs, outputs, name="toy_resnet")


def test_toy_resnet_with_add_trains():
    x, y = bars(600, seed=0)
    xt, yt = bars(200, seed=1)
    model = toy_resnet()
    model.compile(optimizer=optimizers.Adam(0.01), loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    h = model.fit(x, y, batch_size=32, epochs=6, verbose=0)
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]
    assert model.evaluate(xt, yt)[1] > 0.8                 # chance is 1/3


def test_gradcheck_a_graph_with_fan_out_and_a_shared_layer(rng):
    inputs = td.Input((3,), dtype=np.float64)
    shared = layers.Dense(3, activation="tanh")
    a = shared(inputs)
    b = shared(a)                                          # the same weights at two places
    c = layers.Multiply()([a, b])                          # a fans out to shared and Multiply
    outputs = layers.Dense(2)(layers.Concatenate()([c, inputs]))
    model = td.Model(inputs, outputs)
    assert td.gradcheck(model, rng.standard_normal((4, 3)))
    assert td.gradcheck(toy_resnet_64(), rng.standard_normal((2, 1, 8, 8)))


def toy_resnet_64():
    model = toy_resnet()
    model.build(dtype=np.float64)
    return model


def test_a_shared_layer_keeps_one_cache_per_call_and_sums_its_gradients(rng):
    # shared: y = d(d(x)); unshared: two layers holding the same weights. Each call must
    # backpropagate through its own input, and the shared kernel's gradient is the sum.
    d = layers.Dense(3, activation="relu")
    inputs = td.Input((3,), dtype=np.float64)
    shared = td.Model(inputs, d(d(inputs)))
    d1, d2 = layers.Dense(3, activation="relu"), layers.Dense(3, activation="relu")
    inputs2 = td.Input((3,), dtype=np.float64)
    unshared = td.Model(inputs2, d2(d1(inputs2)))
    unshared.set_weights(shared.get_weights() * 2)
    x, dout = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    out_s, out_u = shared(x, training=True), unshared(x, training=True)
    np.testing.assert_allclose(out_s, out_u, rtol=1e-12)
    dx_s, dx_u = shared.backward(dout), unshared.backward(dout)
    np.testing.assert_allclose(dx_s, dx_u, rtol=1e-12)
    np.testing.assert_allclose(d.kernel.grad, d1.kernel.grad + d2.kernel.grad, rtol=1e-12)


def test_several_inputs_and_outputs_with_dicts_losses_and_loss_weights(rng):
    a, b = td.Input((3,), name="a"), td.Input((2,), name="b")
    h = layers.Concatenate()([layers.Dense(4, name="da")(a), b])
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    reg = layers.Dense(1, name="reg")(h)
    model = td.Model(inputs={"a": a, "b": b}, outputs={"cls": cls, "reg": reg})
    model.compile(optimizer=optimizers.SGD(0.0), loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"]})
    xa, xb = rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32)
    yc, yr = rng.integers(0, 3, 8), rng.standard_normal((8, 1)).astype(np.float32)
    logs = model.evaluate({"a": xa, "b": xb}, {"cls": yc, "reg": yr}, return_dict=True, batch_size=8)
    pred = model.predict({"a": xa, "b": xb})
    p, r = pred["cls"], pred["reg"]
    ce = -np.mean(np.log(p[np.arange(8), yc]))
    mse = np.mean((r - yr) ** 2)
    assert logs["cls_loss"] == pytest.approx(ce, rel=1e-5)
    assert logs["reg_loss"] == pytest.approx(mse, rel=1e-5)
    assert logs["loss"] == pytest.approx(ce + 0.5 * mse, rel=1e-5)
    assert logs["cls_accuracy"] == pytest.approx(np.mean(p.argmax(1) == yc))
    assert model.metrics_names == ["loss", "cls_loss", "reg_loss", "cls_accuracy"]
    # lists work too, in output order
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5])
    h = model.fit([xa, xb], [yc, yr], epochs=2, verbose=0)
    assert set(h.history) == {"loss", "cls_loss", "reg_loss"}


def test_loss_weight_scales_the_gradient(rng):
    inputs = td.Input((2,), dtype=np.float64)
    o1, o2 = layers.Dense(1, name="o1")(inputs), layers.Dense(1, name="o2")(inputs)
    model = td.Model(inputs, [o1, o2])
    model.compile(optimizer=optimizers.SGD(1.0), loss=["mse", "mse"], loss_weights=[2.0, 0.0])
    x, y1, y2 = rng.standard_normal((4, 2)), rng.standard_normal((4, 1)), rng.standard_normal((4, 1))
    w0 = model.get_weights()
    model.train_on_batch(x, [y1, y2])
    w1 = model.get_weights()
    pred = x @ w0[0] + w0[1]
    grad_w = x.T @ (2 * (pred - y1) / 4) * 2.0                     # weight 2 on output 1
    np.testing.assert_allclose(w0[0] - w1[0], grad_w, rtol=1e-9)
    np.testing.assert_array_equal(w0[2], w1[2])                     # weight 0: no update


def test_a_model_used_as_a_layer_and_a_nested_sequential(rng):
    inner_in = td.Input((4,))
    inner = td.Model(inner_in, layers.Dense(3, activation="relu")(inner_in), name="inner")
    seq = td.Sequential([layers.Dense(5), layers.ReLU()], name="inner_seq")
    x = td.Input((4,))
    y = layers.Add(name="both")([inner(x), inner(x)])       # the same model twice
    out = layers.Dense(2, name="head")(seq(y))
    model = td.Model(x, out)
    assert [l.name for l in model.layers] == ["inner", "both", "inner_seq", "head"]
    assert model.count_params() == (4 * 3 + 3) + (3 * 5 + 5) + (5 * 2 + 2)
    outer = td.Sequential([layers.Input((4,)), td.Sequential([layers.Dense(3)]), layers.Dense(2)])
    assert outer.predict(np.zeros((2, 4))).shape == (2, 2)
    model.build(dtype=np.float64)
    assert td.gradcheck(model, rng.standard_normal((3, 4)))


def test_get_layer_inputs_outputs_and_feature_extraction():
    base = td.Sequential([layers.Input((4,)), layers.Dense(8, name="hidden"), layers.Dense(2, name="head")])
    features = td.Model(inputs=base.inputs, outputs=base.get_layer("hidden").output)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    w, b = base.get_layer("hidden").get_weights()
    np.testing.assert_allclose(features.predict(x), x @ w + b, rtol=1e-5)
    assert base.get_layer(index=1).name == "head"
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        base.get_layer("nope")
    assert len(base.outputs) == 1 and base.outputs[0].shape == (None, 2)


def test_a_disconnected_graph_is_refused():
    a, b = td.Input((2,)), td.Input((2,))
    out = layers.Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        td.Model(a, out)
    with pytest.raises(TypeError, match="symbolic tensors"):
        td.Model(a, np.zeros(2))


def test_input_shape_is_checked_before_any_kernel():
    x = td.Input((4,))
    model = td.Model(x, layers.Dense(2)(x))
    with pytest.raises(ValueError, match=r"expected input of shape \(None, 4\); received \(3, 5\)"):
        model.predict(np.zeros((3, 5)))


def test_fusion_is_planned_per_output_and_not_when_the_softmax_is_read_elsewhere():
    x = td.Input((3,))
    probs = layers.Softmax()(layers.Dense(3)(x))
    model = td.Model(x, probs)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert model._fused == "layer"
    # the same softmax also feeding another layer: the loss must see probabilities
    x2 = td.Input((3,))
    probs2 = layers.Softmax()(layers.Dense(3)(x2))
    other = layers.Dense(1)(probs2)
    model2 = td.Model(x2, [probs2, other])
    model2.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"])
    assert model2._fused is None
    # predict and a plain call always apply the softmax
    out = model.predict(np.ones((2, 3), np.float32))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)


def test_fusion_plan_does_not_depend_on_the_last_forward():
    # a predict between a training forward and backward must not change what backward does
    x = td.Input((2,), dtype=np.float64)
    model = td.Model(x, layers.Dense(3, activation="softmax")(x))
    model.compile(optimizer=optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    xb, yb = np.array([[1.0, 2.0]]), np.array([1])
    model.train_on_batch(xb, yb)
    g1 = [p.grad.copy() for p in model.trainable_weights]
    model.predict(xb)
    model.train_on_batch(xb, yb)
    for a, p in zip(g1, model.trainable_weights, strict=True):
        np.testing.assert_allclose(p.grad, a, rtol=1e-12)


def test_summary_has_connected_to_and_counts(capsys):
    a = td.Input((4,), name="in_a")
    d = layers.Dense(3, name="d")(a)
    out = layers.Add(name="sum")([d, d])
    model = td.Model(a, out, name="g")
    model.summary()
    text = capsys.readouterr().out
    assert 'Model: "g"' in text and "Connected to" in text
    assert "d[0][0], d[0][0]" in text and "in_a[0][0]" in text
    assert "Total params: 15" in text


def test_summary_of_a_model_built_by_a_call(capsys):
    model = td.Sequential([layers.Dense(3), layers.Dense(2)])
    model.predict(np.zeros((1, 5)))
    model.summary()
    text = capsys.readouterr().out
    assert "(None, 3)" in text and "Total params: 26" in text


def test_get_config_round_trips_through_json():
    a, b = td.Input((3,), name="a"), td.Input((2,), name="b")
    shared = layers.Dense(4, activation="relu", name="shared")
    h = layers.Concatenate(name="cat")([shared(a), layers.Dense(4, name="db")(b)])
    h = layers.Add(name="sum")([h, layers.Dense(8, name="proj")(h)])
    model = td.Model([a, b], layers.Dense(2, name="out")(h), name="two_in")
    config = json.loads(json.dumps(model.get_config()))
    clone = td.Model.from_config(config)
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    clone.set_weights(model.get_weights())
    xa, xb = np.ones((2, 3), np.float32), np.ones((2, 2), np.float32)
    np.testing.assert_array_equal(clone.predict([xa, xb]), model.predict([xa, xb]))
    seq = td.Sequential([layers.Input((3,)), layers.Dense(4), layers.ReLU()], name="s")
    seq2 = td.Sequential.from_config(json.loads(json.dumps(seq.get_config())))
    assert seq2.count_params() == seq.count_params() and seq2.name == "s"


def test_attention_in_a_graph_self_and_cross(rng):
    x = td.Input((5, 8), dtype=np.float64)
    h = layers.Add()([x, layers.MultiHeadAttention(2, 4)(x)])
    model = td.Model(x, layers.Dense(3)(layers.LayerNormalization()(h)))
    assert td.gradcheck(model, rng.standard_normal((2, 5, 8)))
    q, v = td.Input((5, 8), dtype=np.float64), td.Input((7, 8), dtype=np.float64)
    cross = td.Model([q, v], layers.MultiHeadAttention(2, 4)(q, v))
    assert cross.outputs[0].shape == (None, 5, 8)
    assert td.gradcheck(cross, [rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 7, 8))])


def test_sequential_pop_add_and_repr():
    model = td.Sequential([layers.Input((3,)), layers.Dense(4, name="a"), layers.Dense(2, name="b")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert model.pop().name == "b"
    assert [l.name for l in model.layers] == ["a"] and model.outputs[0].shape == (None, 4)
    model.add(layers.Dense(3, activation="softmax", name="c"))
    assert model._fused == "activation"                      # the plan follows the new structure
    assert model.predict(np.zeros((1, 3))).shape == (1, 3)
    assert repr(model) == "<Sequential name='sequential', functional, 2 layers>"
    with pytest.raises(ValueError, match="only be the first entry"):
        model.add(td.Input((3,)))
    empty = td.Sequential()
    with pytest.raises(TypeError, match="no layers"):
        empty.pop()


def test_a_sequential_built_by_its_first_batch_is_fused_from_the_first_step():
    # the plan must hold on the step that builds the model, not only on later ones
    x, y = np.array([[1.0, 2.0]]), np.array([1])
    lazy = td.Sequential([layers.Dense(3, activation="softmax")])
    built = td.Sequential([layers.Input((2,)), layers.Dense(3, activation="softmax")])
    for m in (lazy, built):
        m.compile(optimizer=optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    loss = lazy.fit([(x, y)], epochs=1, verbose=0).history["loss"][0]
    built.build(dtype=np.float64)
    built.set_weights(lazy.get_weights())
    assert loss == pytest.approx(built.evaluate(x, y), rel=1e-12)
    p = lazy.predict(x)
    assert loss == pytest.approx(-np.log(p[0, 1]), rel=1e-9)
