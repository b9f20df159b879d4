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
