"""Callbacks, with the monitored values scripted so every expected epoch is known in advance."""
import csv

import numpy as np
import pytest

import tinydl as td
from tinydl import callbacks, layers, optimizers


class Script(callbacks.Callback):
    """Overwrites logs['val_loss'] with a scripted sequence and snapshots the weights."""

    def __init__(self, values):
        super().__init__()
        self.values, self.snapshots = values, []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]
        self.snapshots.append(self.model.get_weights())


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype(np.float32)
    y = rng.integers(0, 2, 32)
    model = td.Sequential([layers.Input((3,)), layers.Dense(2)])
    model.compile(optimizer=optimizers.SGD(0.1), loss=td.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, x, y


def test_early_stopping_stops_and_restores_best_weights(setup):
    model, x, y = setup
    script = Script([3.0, 2.0, 1.0, 1.5, 2.5, 0.5, 0.1])
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    h = model.fit(x, y, epochs=7, verbose=0, callbacks=[script, stop])
    # best at epoch 2; epochs 3 and 4 do not improve; patience 1 -> stop after epoch 4
    assert h.epoch == [0, 1, 2, 3, 4]
    assert stop.stopped_epoch == 4 and stop.best_epoch == 2
    for best, now in zip(script.snapshots[2], model.get_weights(), strict=True):
        np.testing.assert_array_equal(best, now)


def test_early_stopping_without_restore_keeps_last_weights(setup):
    model, x, y = setup
    script = Script([1.0, 2.0, 3.0])
    model.fit(x, y, epochs=3, verbose=0, callbacks=[script, callbacks.EarlyStopping(patience=0)])
    for last, now in zip(script.snapshots[1], model.get_weights(), strict=True):
        np.testing.assert_array_equal(last, now)


def test_model_checkpoint_saves_only_the_best(setup, tmp_path):
    model, x, y = setup
    path = tmp_path / "best.npz"
    script = Script([2.0, 1.0, 3.0, 1.5])
    model.fit(x, y, epochs=4, verbose=0, callbacks=[script, callbacks.ModelCheckpoint(path, save_best_only=True)])
    fresh = td.Sequential([layers.Input((3,)), layers.Dense(2)])
    fresh.load_weights(path)
    for best, saved in zip(script.snapshots[1], fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(best, saved)


def test_model_checkpoint_formats_the_epoch(setup, tmp_path):
    model, x, y = setup
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "w{epoch:02d}.npz"), monitor="loss")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w01.npz", "w02.npz"]


def test_learning_rate_scheduler_sets_the_rate_each_epoch(setup):
    model, x, y = setup
    seen = []

    class Spy(callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(self.model.optimizer.current_learning_rate())

    h = model.fit(x, y, epochs=3, verbose=0,
                  callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1)), Spy()])
    assert seen == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_csv_logger_writes_one_row_per_epoch(setup, tmp_path):
    model, x, y = setup
    path = tmp_path / "log.csv"
    h = model.fit(x, y, epochs=3, verbose=0, callbacks=[callbacks.CSVLogger(path)])
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "loss"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    assert [float(r[1]) for r in rows[1:]] == pytest.approx(h.history["loss"])


def test_history_loss_is_the_sample_weighted_mean_of_batch_losses(setup):
    model, x, y = setup
    model.compile(optimizer=optimizers.SGD(0.0), loss=td.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = x[:10], y[:10]
    h = model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    batches = [model.evaluate(x[i:i + 4], y[i:i + 4]) * len(x[i:i + 4]) for i in (0, 4, 8)]
    assert h.history["loss"][0] == pytest.approx(sum(batches) / 10, rel=1e-6)


def test_early_stopping_without_its_monitor_warns_once_and_keeps_training(setup):
    model, x, y = setup
    with pytest.warns(RuntimeWarning, match="'val_accuracy'.*validation_data.*available") as seen:
        h = model.fit(x, y, epochs=3, verbose=0, callbacks=[callbacks.EarlyStopping(monitor="val_accuracy")])
    assert h.epoch == [0, 1, 2]
    assert len([w for w in seen if "val_accuracy" in str(w.message)]) == 1
