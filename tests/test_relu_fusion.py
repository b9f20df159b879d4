"""A ReLU that joins its neighbour's op (tinydl/models/functional.py, relu_plan): BatchNormalization
-> ReLU as one batchnorm_relu op, ReLU -> MaxPooling2D (or a conv's ReLU before a max-pool) as
the pool first, then the ReLU on a quarter of the values, and Conv2D -> ReLU (or a Conv2D's own
ReLU) as one conv2d_relu op where no max-pool took it. Training with the fusion gives exactly
the numbers of training without it; where the fusion would change what a layer returns to another
reader, it is not made."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers


def _names(model):
    by_id = {id(n): n.layer.name for n in model._nodes}
    return {by_id[k]: v for k, v in model._relu_plan.items()}


def _cnn(first):
    td.set_seed(0)
    return td.Sequential([layers.Input((3, 12, 12)), *first, layers.MaxPooling2D(2, name="p1"),
                          layers.Conv2D(6, 3, padding="same", use_bias=False, name="c2"),
                          layers.BatchNormalization(name="bn2"), layers.Activation("relu", name="r2"),
                          layers.MaxPooling2D(2, name="p2"), layers.Flatten(), layers.Dense(5)])


FIRST = {
    "conv-bn-relu": lambda: [layers.Conv2D(4, 3, padding="same", name="c1"), layers.BatchNormalization(name="bn1"),
                             layers.ReLU(name="r1")],
    "conv(relu)": lambda: [layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")],
    "conv-relu": lambda: [layers.Conv2D(4, 3, padding="same", name="c1"), layers.ReLU(name="r1")],
    "conv-relu-conv": lambda: [layers.Conv2D(4, 3, padding="same", name="c1"), layers.ReLU(name="r1"),
                               layers.Conv2D(4, 3, padding="same", name="c1b")],
}
PLANS = {
    "conv-bn-relu": {"bn1": "relu", "r1": "layer"},
    "conv(relu)": {"c1": "activation", "p1": "relu"},
    "conv-relu": {"r1": "layer", "p1": "relu"},
    "conv-relu-conv": {"c1": "relu", "r1": "layer"},
}


def _train(model, fused, x, y, steps=3):
    if not fused:
        model._relu_plan = {}
    model.compile(optimizer=td.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    losses = [float(model.train_on_batch(x, y)) for _ in range(steps)]
    return losses, [w.copy() for w in model.get_weights()], model.predict(x, verbose=0)


@pytest.mark.parametrize("kind", sorted(FIRST))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_training_is_exactly_the_unfused_training(kind, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3, 12, 12)).astype(dtype)
    y = rng.integers(0, 5, 8)
    runs = []
    for fused in (True, False):
        model = _cnn(FIRST[kind]())
        if dtype == np.float64:
            model.build(dtype=np.float64)
        if fused:
            assert _names(model) == {**PLANS[kind], "bn2": "relu", "r2": "layer"}
        runs.append(_train(model, fused, x, y))
    (l1, w1, p1), (l2, w2, p2) = runs
    assert l1 == l2 and l1[0] != l1[-1]
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(p1, p2)


def test_no_fusion_where_another_layer_reads_the_value():
    # the BN's output also feeds a second branch, and a ReLU's output is a model output
    inp = td.Input((2, 6, 6))
    h = layers.BatchNormalization(name="bn")(layers.Conv2D(3, 3, padding="same")(inp))
    a = layers.ReLU(name="r")(h)
    b = layers.GlobalAveragePooling2D()(h)
    r2 = layers.ReLU(name="r2")(layers.BatchNormalization(name="bn2")(a))
    model = td.Model(inp, [layers.Flatten()(layers.MaxPooling2D(2, name="p")(a)), b, r2])
    assert _names(model) == {"bn2": "relu", "r2": "layer"}      # bn feeds two layers; p's ReLU is a's reader too


def test_no_fusion_for_other_activations_and_pools():
    model = td.Sequential([layers.Input((2, 8, 8)), layers.BatchNormalization(), layers.LeakyReLU(0.1),
                           layers.Conv2D(2, 3, activation="gelu"), layers.MaxPooling2D(2),
                           layers.ReLU(), layers.AveragePooling2D(2)])
    assert model._relu_plan == {}


def test_a_fused_max_pool_refuses_to_be_an_average_pool():
    with pytest.raises(ValueError, match="only a max-pool"):
        layers.AveragePooling2D(2)(np.ones((1, 1, 4, 4), np.float32), fused_relu=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_conv_with_its_own_relu_trains_exactly_as_conv_then_relu(dtype):
    # Conv2D(activation="relu") runs conv2d_relu by itself (here on conv v9's Winograd path:
    # 16 -> 16 channels at 16x16), and a Conv2D -> ReLU pair is planned into the same op; both
    # train exactly as the conv followed by the ReLU op
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 16, 16)).astype(dtype)
    y = rng.integers(0, 5, 4)

    def model(own_relu):
        td.set_seed(0)
        conv = [layers.Conv2D(16, 3, padding="same", activation="relu" if own_relu else None, name="c1")]
        m = td.Sequential([layers.Input((3, 16, 16)), layers.Conv2D(16, 3, padding="same", name="c0"), *conv,
                           *([] if own_relu else [layers.ReLU(name="r1")]),
                           layers.Conv2D(4, 3, padding="same"), layers.Flatten(), layers.Dense(5)])
        if dtype == np.float64:
            m.build(dtype=np.float64)
        return m

    own, planned, unfused = model(True), model(False), model(False)
    assert _names(own) == {} and _names(planned) == {"c1": "relu", "r1": "layer"}
    runs = [_train(own, True, x, y), _train(planned, True, x, y), _train(unfused, False, x, y)]
    assert own.get_layer("c1")._cache.op == planned.get_layer("c1")._cache.op == "conv2d_relu"
    assert unfused.get_layer("c1")._cache.op == "conv2d"
    (l1, w1, p1) = runs[0]
    assert l1[0] != l1[-1]
    for losses, weights, pred in runs[1:]:
        assert losses == l1
        for a, b in zip(weights, w1, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(pred, p1)
