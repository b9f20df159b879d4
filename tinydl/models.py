"""Sequential: a stack of layers with Keras's compile / fit / evaluate / predict.

    forward:   x -> layer_1 -> ... -> layer_n -> out
    backward:  dout -> layer_n.backward -> ... -> layer_1.backward -> dx
               (each layer adds its parameters' gradients into Parameter.grad)
    one step:  zero_grad, forward, loss, backward(dloss), optimizer.step
"""
import numpy as np

from tinydl import callbacks as _callbacks
from tinydl import data_adapter
from tinydl import device as _device
from tinydl import losses as _losses
from tinydl import metrics as _metrics
from tinydl import optimizers as _optimizers
from tinydl._io import atomic_open
from tinydl.layers.activations import Sigmoid, Softmax, WithActivation
from tinydl.layers.base import Layer
from tinydl.layers.core import Input
from tinydl.progbar import Progbar


class Sequential:
    def __init__(self, layers=None, name="sequential"):
        self.name = name
        self._input = None
        self._layers: list[Layer] = []
        self.device = None  # None: follow td.get_device()
        self.optimizer = self.loss = None
        self._train_loss, self._fused, self._metrics = None, None, []
        self._skip_last = False
        self.stop_training = False
        self.dtype = None
        for layer in layers or []:
            self.add(layer)

    # -- structure --------------------------------------------------------------------------
    def add(self, layer):
        if isinstance(layer, Input):
            if self._layers or self._input is not None:
                raise ValueError("an Input can only be the first entry of a Sequential")
            self._input = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a tinydl Layer; received {type(layer).__name__}")
        self._layers.append(layer)

    @property
    def layers(self):
        return list(self._layers)

    @property
    def input_shape(self):
        if self._input is not None:
            return self._input.shape
        if self._layers and self._layers[0].input_shape is not None:
            return self._layers[0].input_shape
        return None

    @property
    def built(self):
        return bool(self._layers) and all(layer.built for layer in self._layers)

    def build(self, input_shape=None, dtype=np.float32):
        """Create every layer's weights by passing the shape down the stack."""
        shape = tuple(input_shape or self.input_shape or ())
        if not shape:
            raise ValueError("the model has no input shape: start it with layers.Input(shape) or call it on data")
        with _device.using(self._dev()):
            for layer in self._layers:
                layer._ensure_built(shape, dtype)
                shape = layer.compute_output_shape(shape)
        self.dtype = np.dtype(dtype)

    def _dev(self):
        return self.device or _device.get_device()

    def to(self, device):
        """Move every weight (and the optimizer's state) to ``device``."""
        _device.check_available(device)
        for p in self.weights:
            p.value, p.grad = _device.to_device(p.value, device), None
        if self.optimizer is not None:
            for state in self.optimizer._state.values():
                for k in state:
                    state[k] = _device.to_device(state[k], device)
        self.device = device
        return self

    # -- forward and backward ---------------------------------------------------------------
    def _prepare_x(self, x):
        """The batch as this model's dtype on its device (the only upload per step)."""
        if _device.is_device_array(x):
            return x
        x = np.asarray(x)
        if self.dtype is None:
            self.build(x.shape[1:], np.float64 if x.dtype == np.float64 else np.float32)
        expected = self.input_shape
        if expected is not None and tuple(x.shape[1:]) != tuple(expected):
            raise ValueError(
                f"{self.name}: expected input of shape (None, {', '.join(map(str, expected))}); "
                f"received {x.shape}"
            )
        x = np.ascontiguousarray(x, dtype=self.dtype)
        return _device.to_device(x, self._dev())

    def _forward(self, x, training, logits=False):
        x = self._prepare_x(x)
        self._skip_last = False
        with _device.using(self._dev()):
            for i, layer in enumerate(self._layers):
                last = i == len(self._layers) - 1
                if last and logits and self._fused == "layer":
                    self._skip_last = True
                elif last and logits and self._fused == "activation":
                    layer._ensure_built(tuple(x.shape[1:]), self.dtype)
                    x = layer.call(x, training=training, apply_activation=False)
                else:
                    x = layer(x, training=training)
        return x

    def forward(self, x, training=False):
        """The model's output for the batch ``x``."""
        return self._forward(x, training)

    __call__ = forward

    def backward(self, dout):
        """dLoss/dInput from dLoss/dOutput; accumulates every parameter's .grad."""
        layers = self._layers[:-1] if self._skip_last else self._layers
        with _device.using(self._dev()):
            for layer in reversed(layers):
                dout = layer.backward(dout)
        return dout

    def zero_grad(self):
        for p in self.weights:
            p.zero_grad()

    # -- weights ----------------------------------------------------------------------------
    @property
    def weights(self):
        return [p for layer in self._layers for p in layer.weights]

    @property
    def trainable_weights(self):
        return [p for p in self.weights if p.trainable]

    @property
    def non_trainable_weights(self):
        return [p for p in self.weights if not p.trainable]

    def count_params(self) -> int:
        self._require_built("count_params")
        return sum(p.size for p in self.weights)

    def get_weights(self):
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, arrays):
        """Set every weight; nothing changes unless every array fits."""
        self._require_built("set_weights")
        arrays = list(arrays)
        params = self.weights
        if len(arrays) != len(params):
            raise ValueError(f"{self.name} has {len(params)} weight arrays; received {len(arrays)}")
        for p, a in zip(params, arrays):
            if tuple(np.shape(a)) != p.shape:
                raise ValueError(f"weight {p.name!r} has shape {p.shape}; received {tuple(np.shape(a))}")
        start = 0
        for layer in self._layers:
            n = len(layer.weights)
            layer.set_weights(arrays[start:start + n])
            start += n

    def _architecture(self):
        return np.array([type(layer).__name__ for layer in self._layers])

    def save_weights(self, filepath):
        """Write every weight to an .npz file, atomically (a failed write keeps the old file)."""
        self._require_built("save_weights")
        arrays = {f"w{i:04d}": w for i, w in enumerate(self.get_weights())}
        with atomic_open(filepath, "wb", suffix=".npz") as f:
            np.savez(f, __architecture__=self._architecture(), **arrays)

    def load_weights(self, filepath):
        """Load weights saved by save_weights; a file of another architecture is refused with
        ValueError and the model is left unchanged."""
        if not self.built:
            self.build()
        with np.load(filepath, allow_pickle=False) as data:
            saved_arch = data["__architecture__"] if "__architecture__" in data.files else None
            arrays = [data[k] for k in sorted(k for k in data.files if k.startswith("w"))]
        if saved_arch is not None and list(saved_arch) != list(self._architecture()):
            raise ValueError(
                f"{filepath} holds weights of layers {list(saved_arch)}; this model has "
                f"{list(self._architecture())}"
            )
        self.set_weights(arrays)

    def _require_built(self, what):
        if not self.built:
            if self.input_shape is None:
                raise ValueError(
                    f"{what} needs a built model: start it with layers.Input(shape), or call it on data first"
                )
            self.build()

    # -- training ---------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None):
        """Choose the optimizer, loss and metrics. A final softmax (or sigmoid) followed by the
        matching cross-entropy is fused here into one stable from-logits kernel."""
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='sparse_categorical_crossentropy'")
        self.optimizer = _optimizers.get(optimizer)
        self.loss = _losses.get(loss)
        self._fused = self._fusion(self.loss)
        self._train_loss = self.loss.logits_version() if self._fused else self.loss
        from_logits = bool(self._fused) or self.loss.from_logits
        self._metrics = [_metrics.get(m, self.loss, from_logits=from_logits) for m in (metrics or [])]

    def _fusion(self, loss):
        """"layer" when the last layer is the activation, "activation" when the last layer
        applies it inside (Dense(..., activation="softmax")), else None."""
        if loss.from_logits or not loss.fused_activation or not self._layers:
            return None
        kind = {"softmax": Softmax, "sigmoid": Sigmoid}[loss.fused_activation]
        last = self._layers[-1]
        if type(last) is kind:
            return "layer"
        if type(getattr(last, "activation", None)) is kind and isinstance(last, WithActivation):
            return "activation"
        return None

    def _require_compiled(self, what):
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(f"call compile(optimizer=..., loss=...) before {what}")

    def _check_targets(self, y):
        """Sparse labels must be integers inside [0, classes), checked before any kernel runs."""
        if not isinstance(self.loss, _losses.SparseCategoricalCrossentropy) or \
                isinstance(self.loss, _losses.CategoricalCrossentropy):
            return
        if y.dtype.kind not in "iu":
            raise TypeError(f"sparse_categorical_crossentropy needs integer labels; received dtype {y.dtype}")
        if self.input_shape is not None:
            self._require_built("fit")
            shape = tuple(self.input_shape)
            for layer in self._layers:
                shape = layer.compute_output_shape(shape)
            classes = shape[-1]
            if y.size and (y.min() < 0 or y.max() >= classes):
                bad = y[(y < 0) | (y >= classes)][0]
                raise ValueError(f"labels must lie in [0, {classes}); received a label {int(bad)}")

    def train_on_batch(self, x, y):
        """One optimizer step on one batch; returns the batch loss."""
        self._require_compiled("train_on_batch")
        x, y = data_adapter.check_arrays(x, y)
        self._check_targets(y)
        return self._train_step(x, y)

    def _train_step(self, x, y):
        self.zero_grad()
        out = self._forward(x, training=True, logits=bool(self._fused))
        with _device.using(self._dev()):
            loss = self._train_loss(y, out)
            if np.isfinite(loss):
                self.backward(self._train_loss.backward())
                self.optimizer.step(self.trainable_weights)
        self._last_out = out
        return loss

    def fit(self, x=None, y=None, batch_size=32, epochs=1, verbose=1, callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0):
        """Keras's training loop; returns the History (``history.history[name]`` per epoch)."""
        self._require_compiled("fit")
        train, val = self._fit_data(x, y, batch_size, shuffle, validation_split, validation_data)
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1 or initial_epoch >= epochs:
            raise ValueError(f"epochs must be an int > initial_epoch={initial_epoch}; received epochs={epochs!r}")
        history = _callbacks.History()
        extra = list(callbacks or [])
        # as in Keras: the user's callbacks first (they may add to the logs), then the
        # progress bar and the History, which record what the logs hold by then
        cbs = extra + ([_callbacks.ProgbarLogger(verbose)] if verbose else []) + [history]
        steps = len(train) if hasattr(train, "__len__") else None
        cbs = _callbacks.CallbackList(cbs, self, {"epochs": epochs, "steps": steps, "verbose": verbose})
        stop_on_nan = any(isinstance(cb, _callbacks.TerminateOnNaN) for cb in extra)
        self.stop_training = False
        cbs.on_train_begin({})
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch, {})
            logs = self._fit_epoch(train, cbs, epoch, stop_on_nan)
            if val is not None and not self.stop_training:
                val_logs = self._evaluate_batches(val)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end({})
        return history

    def _fit_data(self, x, y, batch_size, shuffle, validation_split, validation_data):
        if data_adapter.is_batch_iterable(x):
            if validation_split:
                raise ValueError("validation_split needs arrays; pass validation_data with a DataLoader")
            train = x
        else:
            x, y = data_adapter.check_arrays(x, y)
            if y is None:
                raise ValueError("fit needs targets y with array input x")
            self._prepare_x(x[:1])
            self._check_targets(y)
            (x, y), split = data_adapter.split_validation(x, y, validation_split)
            validation_data = validation_data if split is None else split
            train = data_adapter.ArrayBatches(x, y, batch_size, shuffle)
        val = None
        if validation_data is not None:
            if data_adapter.is_batch_iterable(validation_data):
                val = validation_data
            else:
                vx, vy = data_adapter.check_arrays(*validation_data)
                self._check_targets(vy)
                val = data_adapter.ArrayBatches(vx, vy, batch_size, shuffle=False)
        return train, val

    def _fit_epoch(self, batches, cbs, epoch, stop_on_nan):
        for m in self._metrics:
            m.reset()
        total, seen, logs = 0.0, 0, {}
        for step, (xb, yb) in enumerate(batches):
            cbs.on_batch_begin(step, {})
            loss = self._train_step(xb, yb)
            if not np.isfinite(loss) and not stop_on_nan:
                raise ValueError(
                    f"the loss became {loss} at epoch {epoch + 1}, batch {step + 1}: the weights "
                    "are left as before that batch; try a lower learning rate, or pass "
                    "callbacks=[TerminateOnNaN()] to stop quietly"
                )
            n = len(xb)
            total, seen = total + loss * n, seen + n
            for m in self._metrics:
                m.update(yb, self._last_out)
            logs = {"loss": total / seen, **{m.name: m.result() for m in self._metrics}}
            cbs.on_batch_end(step, logs)
            if self.stop_training:
                break
        return dict(logs)

    def _evaluate_batches(self, batches):
        for m in self._metrics:
            m.reset()
        total, seen = 0.0, 0
        loss_fn = self._train_loss
        for xb, yb in batches:
            out = self._forward(xb, training=False, logits=bool(self._fused))
            with _device.using(self._dev()):
                loss = loss_fn(yb, out)
            total, seen = total + loss * len(xb), seen + len(xb)
            for m in self._metrics:
                m.update(yb, out)
        return {"loss": total / max(seen, 1), **{m.name: m.result() for m in self._metrics}}

    def evaluate(self, x=None, y=None, batch_size=32, verbose=0, return_dict=False):
        """The mean loss (and metrics) over the data: a float, [loss, *metrics], or a dict."""
        self._require_compiled("evaluate")
        if data_adapter.is_batch_iterable(x):
            batches = x
        else:
            x, y = data_adapter.check_arrays(x, y)
            self._prepare_x(x[:1])
            self._check_targets(y)
            batches = data_adapter.ArrayBatches(x, y, batch_size, shuffle=False)
        logs = self._evaluate_batches(batches)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def predict(self, x, batch_size=32, verbose=0):
        """The model's outputs for ``x`` as one NumPy array (final activation applied)."""
        if data_adapter.is_batch_iterable(x):
            batches = ((xb, None) for xb, *_ in x)
            steps = len(x) if hasattr(x, "__len__") else None
        else:
            x, _ = data_adapter.check_arrays(x)
            batches = data_adapter.ArrayBatches(x, None, batch_size, shuffle=False)
            steps = len(batches)
        bar = Progbar(steps) if verbose else None
        outs = []
        for i, (xb, _) in enumerate(batches):
            outs.append(_device.to_numpy(self._forward(xb, training=False)))
            if bar:
                bar.update(i + 1, finalize=(i + 1 == steps))
        return np.concatenate(outs, axis=0)

    def profile(self, x, y=None, **kwargs):  # per-layer forward/backward times: tinydl/profile.py
        return __import__("tinydl.profile", fromlist=["profile"]).profile(self, x, y, **kwargs)

    # -- summary ----------------------------------------------------------------------------
    def summary(self, print_fn=print):
        """Keras's table: Layer (type) | Output Shape | Param #, then the totals."""
        self._require_built("summary")
        rows, shape = [], tuple(self.input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
            rows.append((f"{layer.name} ({type(layer).__name__})", str((None,) + tuple(shape)),
                         f"{layer.count_params():,}"))
        widths = (34, 26, 12)
        line = lambda cells: "".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
        total = self.count_params()
        trainable = sum(p.size for p in self.trainable_weights)
        out = [f'Model: "{self.name}"', "_" * sum(widths), line(("Layer (type)", "Output Shape", "Param #")),
               "=" * sum(widths)]
        for i, row in enumerate(rows):
            out.append(line(row))
            out.append(("=" if i == len(rows) - 1 else "_") * sum(widths))
        out += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                f"Non-trainable params: {total - trainable:,}", "_" * sum(widths)]
        text = "\n".join(out)
        print_fn(text)
        return None
