"""The teaching examples do what they say."""
import importlib.util
import pathlib

import numpy as np
import pytest

import tinydl as td

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_backprop_by_hand_equals_tinydl_exactly():
    ex = load("mlp_backprop")
    hand, ours = ex.by_hand(), ex.by_tinydl()
    # the hand-worked values (see the docstring): every number a multiple of 1/4
    assert hand["loss"] == 1.0
    np.testing.assert_array_equal(hand["W1"], [[-2, 4, 0], [-4, 8, 0]])
    np.testing.assert_array_equal(hand["x"], [[-5, 0]])
    for name in ("W1", "b1", "W2", "b2", "x"):
        np.testing.assert_array_equal(td.to_numpy(ours[name]), hand[name])
    assert ours["loss"] == hand["loss"]


@pytest.mark.slow
def test_gan_moves_generated_points_onto_the_modes():
    ex = load("gan")
    (d0, _), (d1, covered) = ex.train(steps=600, batch=64, log_every=0)
    # an untrained generator puts its points about 2.5 from the nearest mode
    assert d0 > 1.5
    assert d1 < 0.6 * d0
    assert covered >= 2


def test_functional_resnet_example_trains_at_a_small_size():
    from models_data import bars

    ex = load("functional_resnet")
    data = bars(480, seed=0), bars(200, seed=1)
    model, h = ex.main(epochs=5, channels=8, blocks=1, verbose=0, data=data)
    assert any(type(layer).__name__ == "Add" for layer in model.layers)
    assert h.history["loss"][-1] < 0.6 * h.history["loss"][0]
    assert h.history["val_accuracy"][-1] > 0.8                # 3 classes: chance is 1/3


def test_subclassed_train_step_example_is_what_fit_runs():
    ex = load("subclassed_train_step")
    model, h, test = ex.main(epochs=15, n=600, verbose=0)
    assert set(h.history) == {"loss", "accuracy"}             # the logs its own train_step returns
    assert h.history["accuracy"][-1] > 0.9 and test["accuracy"] > 0.9


def test_gradient_tape_example_reaches_the_accuracy_of_fit():
    ex = load("gradient_tape_loop")
    tape_acc, fit_acc, (a, b) = ex.main(epochs=3, n=800, log=None)
    assert fit_acc > 0.9 and abs(tape_acc - fit_acc) <= 0.01
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-6)
