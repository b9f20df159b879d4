"""get_config / from_config of optimizers (and their schedules), losses and metrics: what
load_model needs to compile a model as it was saved. Parametrised over every class each module
defines, so a new one without a working config fails here."""
import json

import numpy as np
import pytest

from tinydl import layers, losses, metrics, optimizers


def _classes(module, base):
    return [obj for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, base) and obj is not base]


def _json(config):
    return json.loads(json.dumps(config))


@pytest.mark.parametrize("cls", _classes(optimizers, optimizers.Optimizer), ids=lambda c: c.__name__)
def test_every_optimizer_round_trips_with_non_default_arguments(cls):
    default = cls()
    config = default.get_config()
    assert "learning_rate" in config and "name" not in config
    # change every float argument, so a config that ignores one fails
    changed = {k: (v * 0.5 if isinstance(v, float) and v else v) for k, v in config.items()}
    changed["clipnorm"] = 2.0
    opt = cls(**changed)
    clone = cls.from_config(_json(opt.get_config()))
    assert type(clone) is cls and clone.get_config() == opt.get_config()
    assert clone.clipnorm == 2.0


@pytest.mark.parametrize("schedule", [
    optimizers.schedules.ExponentialDecay(0.1, 7, 0.5, staircase=True),
    optimizers.schedules.CosineDecay(0.2, 100, alpha=0.1),
    optimizers.schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]),
], ids=lambda s: type(s).__name__)
def test_a_schedule_is_saved_inside_the_optimizer_config(schedule):
    config = _json(optimizers.Adam(schedule).get_config())
    assert config["learning_rate"]["class_name"] == type(schedule).__name__
    clone = optimizers.Adam.from_config(config)
    assert type(clone.learning_rate) is type(schedule)
    for step in (0, 5, 15, 50, 500):
        assert clone.learning_rate(step) == schedule(step)


def test_an_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'Warmup'"):
        optimizers.SGD.from_config({"learning_rate": {"class_name": "Warmup", "config": {}}})


def test_optimizer_state_round_trips_and_is_checked():
    p = layers.Dense(2)
    p(np.zeros((1, 3), np.float32))
    params = p.weights
    opt = optimizers.Adam(0.1)
    for w in params:
        w.grad = np.ones(w.shape, np.float32)
    opt.step(params)
    state = opt.get_state(params)
    assert sorted(state) == ["0.m", "0.v", "1.m", "1.v", "iterations"] and int(state["iterations"]) == 1
    other = optimizers.Adam(0.1)
    other.set_state(params, state)
    assert other.iterations == 1
    np.testing.assert_array_equal(other._state[id(params[0])]["v"], state["0.v"])
    with pytest.raises(ValueError, match=r"'1.m' is float32\(5,\)"):
        optimizers.Adam().set_state(params, {**state, "1.m": np.zeros(5, np.float32)})


@pytest.mark.parametrize("cls", _classes(losses, losses.Loss), ids=lambda c: c.__name__)
def test_every_loss_round_trips(cls):
    loss = cls()
    clone = cls.from_config(_json(loss.get_config()))
    assert type(clone) is cls and clone.get_config() == loss.get_config()
    if "from_logits" in loss.get_config():
        assert cls.from_config(cls(from_logits=True).get_config()).from_logits is True


@pytest.mark.parametrize("cls", _classes(metrics, metrics.Metric), ids=lambda c: c.__name__)
def test_every_metric_round_trips_with_its_name(cls):
    metric = metrics.get("accuracy", losses.BinaryCrossentropy(), from_logits=True) \
        if cls is metrics.BinaryAccuracy else cls()
    clone = cls.from_config(_json(metric.get_config()))
    assert type(clone) is cls and clone.name == metric.name and clone.from_logits == metric.from_logits


def test_a_frozen_layer_config_stays_frozen():
    dense = layers.Dense(2)
    dense.trainable = False
    assert dense.get_config()["trainable"] is False
    assert layers.Dense.from_config(dense.get_config()).trainable is False
