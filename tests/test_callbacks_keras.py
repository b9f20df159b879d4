"""ReduceLROnPlateau with a scripted monitor (every epoch's learning rate worked out by hand),
LambdaCallback's hooks, the batch hooks' Keras aliases."""
import numpy as np
import pytest

import tinydl as td
from tinydl import callbacks, layers, optimizers


class Script(callbacks.Callback):
    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


@pytest.fixture
def model_xy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = rng.integers(0, 2, 16)
    model = td.Sequential([layers.Input((3,)), layers.Dense(2)])
    model.compile(optimizer=optimizers.SGD(1.0), loss=td.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.optimizer.learning_rate = 0.0    # the weights stay put; only the schedule is under test
    return model, x, y


class RecordLR(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.lrs = []

    def on_epoch_end(self, epoch, logs=None):
        self.lrs.append(self.model.optimizer.learning_rate)


def test_reduce_lr_on_plateau_by_hand(model_xy):
    model, x, y = model_xy
    model.optimizer.learning_rate = 1.0
    # best 1.0 at epoch 0; epochs 1, 2 no better (min_delta 0.1: 0.95 is not better) -> wait 2 = patience
    # -> lr 0.5 after epoch 2; cooldown 1: epoch 3 ends the cooldown, and (as in Keras) counts
    # wait 1; epoch 4 better (0.5); epochs 5, 6 no better -> lr 0.25 after epoch 6; epochs 7, 8
    # -> 0.125, raised to min_lr = 0.2 after epoch 8; at min_lr it stays
    values = [1.0, 0.95, 1.2, 1.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    rec = RecordLR()
    plateau = callbacks.ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.1, cooldown=1, min_lr=0.2)
    h = model.fit(x, y, epochs=10, verbose=0, callbacks=[Script(values), plateau, rec])
    assert rec.lrs == [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2]
    # logs["learning_rate"] is the rate the epoch trained with
    assert h.history["learning_rate"] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.2]


def test_reduce_lr_on_plateau_max_mode_and_missing_monitor(model_xy):
    model, x, y = model_xy
    model.optimizer.learning_rate = 0.1
    rec = RecordLR()
    cb = callbacks.ReduceLROnPlateau(monitor="val_loss", mode="max", factor=0.1, patience=1, min_delta=0)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[Script([3.0, 2.0, 4.0]), cb, rec])
    assert rec.lrs == pytest.approx([0.1, 0.01, 0.01])
    with pytest.warns(RuntimeWarning, match="'val_acc'"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.ReduceLROnPlateau(monitor="val_acc")])


@pytest.mark.parametrize("kw,match", [({"factor": 1.0}, "factor"), ({"patience": -1}, "patience"),
                                      ({"min_lr": -1}, "min_lr")])
def test_reduce_lr_on_plateau_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        callbacks.ReduceLROnPlateau(**kw)


def test_lambda_callback_hooks(model_xy):
    model, x, y = model_xy
    seen = []
    cb = callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: seen.append(f"epoch_begin {epoch}"),
        on_epoch_end=lambda epoch, logs: seen.append(f"epoch_end {epoch} {sorted(logs)}"),
        on_train_end=lambda logs: seen.append("train_end"))
    model.fit(x, y, epochs=2, verbose=0, callbacks=[cb])
    assert seen == ["train_begin", "epoch_begin 0", "epoch_end 0 ['loss']", "epoch_begin 1",
                    "epoch_end 1 ['loss']", "train_end"]


def test_lambda_callback_batch_hooks_and_keras_aliases():
    batches = []
    cb = callbacks.LambdaCallback(on_train_batch_begin=lambda b, logs: batches.append(("begin", b)),
                                  on_train_batch_end=lambda b, logs: batches.append(("end", b, logs["loss"])))
    lst = callbacks.CallbackList([cb], None, {})
    lst.on_train_batch_begin(0, {})
    lst.on_train_batch_end(0, {"loss": 0.5})
    cb.on_train_batch_end(1, logs={"loss": 0.25})
    assert batches == [("begin", 0), ("end", 0, 0.5), ("end", 1, 0.25)]

    class Old(callbacks.Callback):          # an on_batch_end written for the older name still runs
        def __init__(self):
            super().__init__()
            self.calls = []

        def on_batch_end(self, batch, logs=None):
            self.calls.append(batch)
    old = Old()
    old.on_train_batch_end(3, {})
    assert old.calls == [3]
    for hook in ("on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end"):
        assert getattr(callbacks.Callback(), hook)(0, {}) is None


def test_lambda_callback_bad_hooks():
    with pytest.raises(ValueError, match="unknown hook 'on_epoch_ending'"):
        callbacks.LambdaCallback(on_epoch_ending=print)
    with pytest.raises(TypeError, match="on_epoch_end must be a function"):
        callbacks.LambdaCallback(on_epoch_end=3)
