"""Callbacks, Keras's hooks into `fit`: on_train_begin/end, on_epoch_begin/end(epoch, logs),
on_train_batch_begin/end(batch, logs) (on_batch_begin/end are Keras's older names: the train
hooks call them unless overridden), on_test_*/on_predict_* likewise. ``self.model`` is the model
being trained; setting ``model.stop_training = True`` ends training after the current batch or
epoch."""
import csv
import io
import math
import os
import warnings

import numpy as np

from tinydl._io import atomic_open
from tinydl._validate import finite_float, nonnegative_int
from tinydl.progbar import Progbar, auto_verbose


class Callback:
    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    # as in Keras: the train-batch hooks default to the older on_batch_* names
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


class CallbackList:
    """Calls each hook on every callback in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def __getattr__(self, hook):
        def call_all(*args):
            for cb in self.callbacks:
                fn = getattr(cb, hook, None)    # a duck-typed callback may lack a hook
                if fn is not None:
                    fn(*args)
        return call_all


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is the list of epoch losses."""

    def __init__(self):
        super().__init__()
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class ProgbarLogger(Callback):
    """Prints "Epoch i/n", then Keras 3's progress bar (verbose=1, redrawn in place on a terminal
    or in a notebook) or one line per epoch with its step count (verbose=2)."""

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = auto_verbose() if verbose == "auto" else verbose
        self.bar = None

    def on_epoch_begin(self, epoch, logs=None):
        print(f"Epoch {epoch + 1}/{self.params.get('epochs')}", flush=True)
        self.bar = Progbar(self.params.get("steps"), verbose=self.verbose)
        self.seen = 0

    def on_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        self.bar.update(self.seen, list((logs or {}).items()))

    def on_epoch_end(self, epoch, logs=None):
        self.bar.update(self.params.get("steps") or self.seen, list((logs or {}).items()), finalize=True)


def _better(mode, monitor):
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'; received {mode!r}")
    return (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b), mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; with
    ``restore_best_weights`` the model ends with the weights of its best epoch."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto",
                 restore_best_weights=False, verbose=0):
        super().__init__()
        if patience < 0:
            raise ValueError(f"patience must be >= 0; received {patience!r}")
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), patience
        self.better, self.mode = _better(mode, monitor)
        self.restore_best_weights, self.verbose = restore_best_weights, verbose

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, None, None
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None
        self._warned = False

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            # as Keras: say so once and keep training (no validation data, a misspelt name)
            if not self._warned:
                warnings.warn(_missing(type(self).__name__, self.monitor, logs), RuntimeWarning, stacklevel=2)
                self._warned = True
            return
        shifted = value + self.min_delta if self.mode == "min" else value - self.min_delta
        if self.better(shifted, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        if self.verbose and self.stopped_epoch is not None:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping; best epoch {self.best_epoch + 1}")


def _missing(owner, monitor, logs):
    hint = " (pass validation_data= or validation_split= to fit)" if monitor.startswith("val_") else ""
    return (f"{owner} monitors {monitor!r}, which the logs do not have{hint}; available: "
            f"{sorted(logs or {})}. Training goes on without it")


class ModelCheckpoint(Callback):
    """Save the model after each epoch (or only when ``monitor`` improves). The name says what
    is written: "x.keras" the whole model (model.save: architecture, weights, optimizer state),
    "x.npz" the weights only (model.save_weights; also what ``save_weights_only=True`` asks
    for). ``filepath`` may hold format fields, e.g. "w-{epoch:02d}-{val_loss:.3f}.npz"; files
    are written atomically."""

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto", verbose=0,
                 save_weights_only=False):
        super().__init__()
        self.filepath, self.monitor, self.save_best_only = str(filepath), monitor, save_best_only
        self.save_weights_only = bool(save_weights_only)
        self._whole_model = _checkpoint_kind(self.filepath, self.save_weights_only)
        self.better, self.mode = _better(mode, monitor)
        self.verbose = verbose
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                raise ValueError(
                    f"ModelCheckpoint monitors {self.monitor!r}, which the logs do not have; "
                    f"available: {sorted(logs)}"
                )
            if not self.better(value, self.best):
                return
            self.best = value
        if self._whole_model:
            self.model.save(path)
        else:
            self.model.save_weights(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved {'model' if self._whole_model else 'weights'} to {path}")


def _checkpoint_kind(filepath, save_weights_only) -> bool:
    """True for a whole-model checkpoint (.keras), False for weights (.npz); any other name is
    refused here, before training starts."""
    name = filepath.lower()
    if name.endswith(".keras") and not save_weights_only:
        return True
    if name.endswith(".npz"):
        return False
    base = os.path.basename(filepath)
    ext = base[base.find("."):] if "." in base else "no extension"
    why = ("save_weights_only=True writes an .npz weights file, but the name promises a whole "
           ".keras model" if name.endswith(".keras") else f"tinydl does not write {ext} files")
    raise ValueError(f"ModelCheckpoint: {why}. Supported: '.keras' (the whole model, "
                     f"save_weights_only=False) and '.npz' (the weights only). Received: filepath={filepath!r}")


class LearningRateScheduler(Callback):
    """At each epoch's start set the optimizer's learning rate to ``schedule(epoch, lr)``
    (or ``schedule(epoch)``)."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        try:
            lr = self.schedule(epoch, opt.current_learning_rate())
        except TypeError:
            lr = self.schedule(epoch)
        opt.learning_rate = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {lr:.6g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.current_learning_rate()


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: invalid loss {loss}, terminating training")
            self.model.stop_training = True


class CSVLogger(Callback):
    """One row per epoch: epoch, then every log value. The file is rewritten atomically at each
    epoch's end, so an interrupted run leaves a complete file."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.separator, self.append = str(filename), separator, append

    def on_train_begin(self, logs=None):
        self.rows, self.keys = [], None
        if self.append:
            try:
                with open(self.filename, newline="") as f:
                    self.rows = list(csv.reader(f, delimiter=self.separator))
            except FileNotFoundError:
                pass

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if not self.rows:
                self.rows.append(["epoch"] + self.keys)
        self.rows.append([str(epoch)] + [repr(float(logs.get(k, float("nan")))) for k in self.keys])
        text = io.StringIO()
        csv.writer(text, delimiter=self.separator, lineterminator="\n").writerows(self.rows)
        with atomic_open(self.filename, "w", suffix=".csv") as f:
            f.write(text.getvalue())


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by more than
    ``min_delta`` for ``patience`` epochs, never below ``min_lr``; then wait ``cooldown`` epochs
    before counting again (Keras's rule). Each epoch's logs get "learning_rate"."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__()
        self.factor = finite_float(factor, "factor", low=0.0, high=1.0, low_open=True, high_open=True)
        self.patience = nonnegative_int(patience, "patience", "ReduceLROnPlateau")
        self.cooldown = nonnegative_int(cooldown, "cooldown", "ReduceLROnPlateau")
        self.min_lr = finite_float(min_lr, "min_lr", low=0.0)
        self.min_delta = abs(finite_float(min_delta, "min_delta"))
        self.monitor, self.verbose = monitor, verbose
        self.better, self.mode = _better(mode, monitor)

    def on_train_begin(self, logs=None):
        if callable(self.model.optimizer.learning_rate):
            raise ValueError("ReduceLROnPlateau sets the learning rate, so the optimizer's must be a "
                             f"number; received the schedule {self.model.optimizer.learning_rate!r}")
        self.wait, self.cooldown_counter, self._warned = 0, 0, False
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        opt = self.model.optimizer
        logs["learning_rate"] = opt.current_learning_rate()
        value = logs.get(self.monitor)
        if value is None:
            if not self._warned:
                warnings.warn(_missing("ReduceLROnPlateau", self.monitor, logs), RuntimeWarning, stacklevel=2)
                self._warned = True
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        shifted = value + self.min_delta if self.mode == "min" else value - self.min_delta
        if self.better(shifted, self.best):
            self.best, self.wait = value, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and opt.learning_rate > self.min_lr:
                new = max(opt.learning_rate * self.factor, self.min_lr)
                opt.learning_rate = new
                self.cooldown_counter, self.wait = self.cooldown, 0
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new:.6g}.")


class LambdaCallback(Callback):
    """A callback made of functions, as Keras's: ``LambdaCallback(on_epoch_end=lambda epoch, logs:
    ...)``. Epoch and batch hooks take (index, logs); train/test/predict begin/end take (logs).
    Any other hook may be given by its name as a keyword."""

    _HOOKS = {"on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
              "on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end",
              "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
              "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"}

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for hook, fn in given.items():
            if hook not in self._HOOKS:
                raise ValueError(f"LambdaCallback: unknown hook {hook!r}; expected one of {sorted(self._HOOKS)}")
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {hook} must be a function. Received: {hook}={fn!r}")
            setattr(self, hook, _indexed(fn) if ("epoch" in hook or "batch" in hook) else _plain(fn))


# the user's function gets its arguments positionally, whatever it names them
def _indexed(fn):
    def hook(index, logs=None):
        return fn(index, logs)
    return hook


def _plain(fn):
    def hook(logs=None):
        return fn(logs)
    return hook
