"""A training step needs no gradient for the model's data: the layers that read it skip their
dx (tinydl/tape.py, input_grad_needed), and every weight's gradient stays the same."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers, ops


@pytest.fixture
def need_dx_calls(monkeypatch):
    """The need_dx of every conv2d/dense backward, as (op, need_dx), in call order (a
    conv2d_relu backward counts as conv2d)."""
    calls = []
    for name in ("conv2d_backward", "conv2d_relu_backward", "dense_backward"):
        real = getattr(ops, name)

        def spy(dout, cache, need_dx=True, _real=real, _name=name):
            calls.append((_name.split("_")[0], need_dx))
            return _real(dout, cache, need_dx=need_dx)
        monkeypatch.setattr(ops, name, spy)
    return calls


def grads_both_ways(model, x, y):
    """The weights' gradients of a training step's backward and of the public backward."""
    loss = td.losses.SparseCategoricalCrossentropy(from_logits=True)
    out = []
    for input_grads in (False, True):
        model.zero_grad()
        loss(y, model(x, training=True))
        dx = model._backward(loss.backward(), input_grads=input_grads)
        out.append(([p.grad.copy() for p in model.trainable_weights], dx))
    return out


def assert_same_grads(both, x):
    (skipped, none), (full, dx) = both
    assert none is None and dx.shape == x.shape
    for a, e in zip(skipped, full, strict=True):
        np.testing.assert_array_equal(a, e)


def test_the_first_conv_skips_dx_and_the_weight_gradients_do_not_change(need_dx_calls, rng):
    td.set_seed(0)
    model = td.Sequential([layers.Input((2, 6, 6)), layers.Conv2D(3, 3, padding="same", activation="relu"),
                           layers.Conv2D(4, 3), layers.Flatten(), layers.Dense(5)])
    x = rng.standard_normal((4, 2, 6, 6)).astype(np.float32)
    both = grads_both_ways(model, x, np.array([0, 1, 2, 3]))
    assert need_dx_calls == [("dense", True), ("conv2d", True), ("conv2d", False),
                             ("dense", True), ("conv2d", True), ("conv2d", True)]
    assert_same_grads(both, x)


def test_train_on_batch_asks_for_no_input_gradient(need_dx_calls, rng):
    model = td.Sequential([layers.Input((7,)), layers.Dense(4, activation="relu"), layers.Dense(3)])
    model.compile(optimizer="adam", loss=td.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.train_on_batch(rng.standard_normal((5, 7)).astype(np.float32), np.array([0, 1, 2, 0, 1]))
    assert need_dx_calls == [("dense", True), ("dense", False)]


def test_a_nested_model_passes_it_on_to_its_own_first_layer_only(need_dx_calls, rng):
    td.set_seed(1)
    inner = td.Sequential([layers.Input((6,)), layers.Dense(5, activation="tanh"), layers.Dense(4)])
    model = td.Sequential([layers.Input((6,)), inner, layers.Dense(3)])
    x = rng.standard_normal((4, 6)).astype(np.float32)
    both = grads_both_ways(model, x, np.array([0, 1, 2, 0]))
    assert need_dx_calls[:3] == [("dense", True), ("dense", True), ("dense", False)]
    assert need_dx_calls[3:] == [("dense", True)] * 3
    assert_same_grads(both, x)


def test_layers_inside_a_layer_still_get_their_dx(need_dx_calls, rng):
    # a Residual reading the data is told; the Dense layers its backward calls are not
    td.set_seed(2)
    block = td.Sequential([layers.Input((6,)), layers.Dense(6, activation="relu"), layers.Dense(6)])
    model = td.Sequential([layers.Input((6,)), layers.Residual(block), layers.Dense(3)])
    x = rng.standard_normal((4, 6)).astype(np.float32)
    both = grads_both_ways(model, x, np.array([0, 1, 2, 0]))
    assert all(need for _, need in need_dx_calls[:3])
    assert_same_grads(both, x)


def test_a_functional_input_read_by_two_layers(need_dx_calls, rng):
    td.set_seed(3)
    inp = layers.Input((6,))
    a, b = layers.Dense(4)(inp), layers.Dense(4)(inp)
    model = td.Model(inp, layers.Dense(3)(layers.Concatenate()([a, b])))
    x = rng.standard_normal((4, 6)).astype(np.float32)
    both = grads_both_ways(model, x, np.array([0, 1, 2, 0]))
    assert sorted(need_dx_calls[:3]) == [("dense", False), ("dense", False), ("dense", True)]
    assert_same_grads(both, x)


@pytest.mark.parametrize("first,shape", [
    (lambda: layers.Conv1D(3, 3, padding="same"), (2, 6)),
    (lambda: layers.PatchEmbedding(2, 5), (2, 4, 4)),
], ids=["conv1d", "patch-embedding"])
def test_other_first_layers_skip_it_too(first, shape, need_dx_calls, rng):
    td.set_seed(4)
    model = td.Sequential([layers.Input(shape), first(), layers.Flatten(), layers.Dense(3)])
    x = rng.standard_normal((4, *shape)).astype(np.float32)
    both = grads_both_ways(model, x, np.array([0, 1, 2, 0]))
    assert need_dx_calls[1][1] is False
    assert_same_grads(both, x)
