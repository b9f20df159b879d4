"""Keras's training surface for every model: compile, fit, evaluate, predict, train_on_batch.

    compile    the optimizer, and per output a loss (a list or dict for several outputs),
               its weight, its metrics, and the fusion plan: a final softmax (or sigmoid)
               followed by the matching cross-entropy runs as one from-logits kernel. The plan
               is decided here, once, from the model's structure.
    fit        for each batch: train_step(data) -> logs; callbacks around it. A model may
               override train_step / test_step / predict_step (return a dict of logs).
    one step   zero_grad, forward (with the plan), loss, backward(dloss), optimizer.step
"""
import numpy as np

from tinydl import callbacks as _callbacks
from tinydl import data_adapter
from tinydl import device as _device
from tinydl import losses as _losses
from tinydl import metrics as _metrics
from tinydl import optimizers as _optimizers
from tinydl import progbar as _progbar
from tinydl.layers.activations import Sigmoid, Softmax, WithActivation
from tinydl.models import data as _data
from tinydl.ops import merge as _merge


class LossMean:
    """The running mean of a loss over the samples seen since reset_state."""

    def __init__(self, name):
        self.name = name
        self.reset_state()

    def reset_state(self):
        self._total, self._count = 0.0, 0

    def update_state(self, value, n=1):
        self._total += float(value) * n
        self._count += n

    def result(self):
        return self._total / self._count if self._count else 0.0


class OutputPlan:
    """What compile decided for one output: its loss, weight, fusion and metrics."""

    def __init__(self, name, loss, weight, fuse, metrics, metric_names=None):
        self.name, self.loss, self.weight, self.fuse, self.metrics = name, loss, weight, fuse, metrics
        # each metric's name before compile prefixed it with the output's (several outputs)
        self.metric_names = metric_names or [m.name for m in metrics]
        self.train_loss = loss.logits_version() if fuse else loss
        self.tracker = LossMean(f"{name}_loss")


def _fusion(loss, layer, alone):
    """"layer" when the output comes from the activation layer, "activation" when the layer
    applies it inside (Dense(..., activation="softmax")), else None."""
    if loss is None or layer is None or not alone or loss.from_logits or not loss.fused_activation:
        return None
    kind = {"softmax": Softmax, "sigmoid": Sigmoid}[loss.fused_activation]
    if type(layer) is kind:
        return "layer"
    if isinstance(layer, WithActivation) and type(getattr(layer, "activation", None)) is kind:
        return "activation"
    return None


def _per_output(value, names, what):
    """``value`` (one item, a list, or a dict by output name) as a list, one per output."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"compile: {what} names unknown outputs {unknown}; the outputs are {names}")
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"compile: {what} has {len(value)} entries for {len(names)} outputs {names}")
        return list(value)
    return [value] * len(names)


def _reset(m):
    (getattr(m, "reset_state", None) or m.reset)()


def _update(m, y, out):
    (getattr(m, "update_state", None) or m.update)(y, out)


class Trainer:
    def _init_training(self):
        self.optimizer = self.loss = None
        self._plan = None                   # list of OutputPlan once compiled with a loss
        self._compile_args = None
        self._loss_tracker = LossMean("loss")
        self._last_logs = {}

    # -- compile ----------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None, loss_weights=None):
        """Choose the optimizer, the loss(es) and the metrics; decide the fusion plan.
        ``loss`` may be omitted for a model whose own train_step computes its loss."""
        self.optimizer = _optimizers.get(optimizer)
        self._compile_args = {"loss": loss, "metrics": metrics, "loss_weights": loss_weights}
        self._plan = None
        self.loss = None
        if loss is not None:
            self._refresh_plan()

    def _output_specs(self):
        """(name, layer that makes it, whether nothing else in the model reads it) per output."""
        if self._graph:
            from tinydl.models import functional as _graph
            used = _graph.consumers(self._nodes)
            names = self._output_keys or [t.node.layer.name for t in self._outputs]
            return [(n, t.node.layer, used.get(id(t), 0) == 0) for n, t in zip(names, self._outputs, strict=True)]
        layers = getattr(self, "_layers", None)
        if layers:                          # a Sequential not built yet: its last layer
            return [(layers[-1].name, layers[-1], True)]
        loss = (self._compile_args or {}).get("loss")
        n = len(loss) if isinstance(loss, (list, tuple)) else 1
        names = list(loss) if isinstance(loss, dict) else \
            [f"output_{i}" for i in range(n)] if n > 1 else [self.name]
        return [(name, None, False) for name in names]

    def _refresh_plan(self):
        """(Re)derive the per-output plan from the compile arguments and the structure."""
        args = getattr(self, "_compile_args", None)
        if not args or args["loss"] is None:
            return
        specs = self._output_specs()
        names = [s[0] for s in specs]
        losses = [None if v is None else _losses.get(v) for v in _per_output(args["loss"], names, "loss")]
        weights = _per_output(args["loss_weights"], names, "loss_weights") if args["loss_weights"] is not None \
            else [1.0] * len(names)
        metrics = args["metrics"] or []
        if isinstance(metrics, dict) or (len(names) > 1 and metrics and isinstance(metrics[0], (list, tuple))):
            per = _per_output(metrics, names, "metrics")
        else:
            per = [metrics] * len(names)
        plan = []
        for (name, layer, alone), loss, w, ms in zip(specs, losses, weights, per, strict=True):
            fuse = _fusion(loss, layer, alone)
            from_logits = bool(fuse) or bool(loss and loss.from_logits)
            made, bases = [], []
            for m in ([] if ms is None else ms if isinstance(ms, (list, tuple)) else [ms]):
                obj = _metrics.get(m, loss, from_logits=from_logits)   # a string keeps its name
                bases.append(obj.name)
                if len(names) > 1:
                    obj.name = f"{name}_{obj.name}"
                made.append(obj)
            plan.append(OutputPlan(name, loss, 1.0 if w is None else float(w), fuse, made, bases))
        self._plan = plan
        self.loss = plan[0].loss if len(plan) == 1 else {p.name: p.loss for p in plan}

    # -- the compile settings as JSON values (Keras 3's names; tinydl/saving.py stores them) --
    def get_compile_config(self):
        """{"optimizer", "loss", "metrics"[, "loss_weights"]} as JSON values (None before
        compile): the loss objects and the metric objects compile made from its arguments,
        by output name for a model of several outputs. ``compile_from_config`` takes it back."""
        if self.optimizer is None:
            return None
        from tinydl import saving

        args = self._compile_args
        config = {"optimizer": saving.serialize_object(self.optimizer)}
        if not self._plan:                      # compiled without a loss (its own train_step)
            config.update(loss=None, metrics=saving.serialize_object(args["metrics"]))
            return config
        per = {p.name: [saving.serialize_object(m, name=n) for m, n in zip(p.metrics, p.metric_names, strict=True)]
               for p in self._plan}
        single = len(self._plan) == 1
        config["loss"] = saving.serialize_object(self.loss)
        config["metrics"] = per[self._plan[0].name] if single else {"__dict__": per}   # saving's dict form
        if args["loss_weights"] is not None:
            config["loss_weights"] = self._plan[0].weight if single else {p.name: p.weight for p in self._plan}
        return config

    def compile_from_config(self, config):
        """compile with the settings get_compile_config returned."""
        from tinydl import saving

        self.compile(**saving.compile_arguments(config))

    @property
    def _fused(self):
        """The first output's fusion ("layer", "activation" or None), as compile planned it."""
        return self._plan[0].fuse if self._plan else None

    def _graph_plan(self):
        """id(node) -> fusion, for the graph runner (empty without a graph)."""
        if not self._plan or not self._graph:
            return {}
        return {id(t.node): p.fuse for t, p in zip(self._outputs, self._plan, strict=True) if p.fuse}

    @property
    def metrics(self):
        """The loss tracker(s) and the compiled metrics; fit resets these every epoch.
        A subclass may override it to list its own metric objects."""
        if not self._plan:
            return []
        out = [self._loss_tracker]
        if len(self._plan) > 1:
            out += [p.tracker for p in self._plan if p.loss is not None]
        return out + [m for p in self._plan for m in p.metrics]

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def _require_compiled(self, what):
        if self.optimizer is None:
            raise RuntimeError(f"call compile(optimizer=..., loss=...) before {what}")

    def _require_loss(self, what):
        if not self._plan:
            raise RuntimeError(f"{what} needs a loss: compile(optimizer=..., loss=...), or override "
                               "train_step / test_step to compute the loss yourself")

    # -- one step ---------------------------------------------------------------------------
    def _targets(self, y):
        n = len(self._plan)
        if n == 1:
            return [y]
        if isinstance(y, dict):
            return [y.get(p.name) for p in self._plan]
        if not isinstance(y, (list, tuple)) or len(y) != n:
            raise ValueError(f"{self.name} has {n} outputs: pass y as a list of {n} arrays or a dict "
                             f"by output name {[p.name for p in self._plan]}")
        return list(y)

    def _losses_and_grads(self, y, outs, sample_weight=None):
        """The weighted total loss, each output's loss, and dLoss/dOutput per output."""
        outs = list(outs.values()) if isinstance(outs, dict) else list(outs) if len(self._plan) > 1 else [outs]
        total, per, douts = 0.0, [], []
        with _device.using(self._dev()):
            for p, yi, oi in zip(self._plan, self._targets(y), outs, strict=True):
                if p.loss is None or yi is None:
                    per.append(None)
                    douts.append(None)
                    continue
                # Keras's weighted mean sum_n w[n] * loss[n] / N (the plain mean without weights)
                value = float(p.train_loss(yi, oi, sample_weight=sample_weight))
                g = p.train_loss.backward()
                douts.append(g if p.weight == 1.0 else _merge.scale(g, p.weight))
                per.append(value)
                total += p.weight * value
        return total, per, douts, outs

    def _update_logs(self, y, outs, total, per, n):
        self._loss_tracker.update_state(total, n)
        for p, yi, oi, v in zip(self._plan, self._targets(y), outs, per, strict=True):
            if v is not None:
                p.tracker.update_state(v, n)
                for m in p.metrics:
                    _update(m, yi, oi)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        """One optimizer step on ``data`` = (x, y); returns the logs (running means)."""
        self._require_loss("train_step")
        x, y, sw = _data.unpack(data)
        self.zero_grad()
        outs = self._execute(x, training=True, fused=True)
        total, per, douts, flat = self._losses_and_grads(y, outs, sw)
        self._last_batch_loss = total
        if np.isfinite(total):
            self._backward(douts if len(douts) > 1 else douts[0], input_grads=False)
            self.optimizer.step(self.trainable_weights)
        return self._update_logs(y, flat, total, per, _data.batch_len(x))

    def test_step(self, data):
        """The loss and metrics of one batch (running means since the last reset)."""
        self._require_loss("test_step")
        x, y, sw = _data.unpack(data)
        outs = self._execute(x, training=False, fused=True)
        total, per, _, flat = self._losses_and_grads(y, outs, sw)
        return self._update_logs(y, flat, total, per, _data.batch_len(x))

    def predict_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        return self._execute(x, training=False)

    def train_on_batch(self, x, y):
        """One optimizer step on one batch; returns the batch loss."""
        self._require_compiled("train_on_batch")
        x, y = self._check_data(x, y)
        for m in self.metrics:
            _reset(m)
        logs = self.train_step((x, y))
        return float(logs.get("loss", getattr(self, "_last_batch_loss", float("nan"))))

    # -- data -------------------------------------------------------------------------------
    def _check_data(self, x, y):
        """x, y as arrays (or lists / dicts of arrays) of one length; builds the model from x."""
        if isinstance(x, (list, tuple, dict)) or isinstance(y, (list, tuple, dict)):
            xs = list(x.values()) if isinstance(x, dict) else list(x) if isinstance(x, (list, tuple)) else [x]
            ys = [] if y is None else list(y.values()) if isinstance(y, dict) else \
                list(y) if isinstance(y, (list, tuple)) else [y]
            arrays = [np.asarray(a) for a in xs + ys if a is not None]
            if len({len(a) for a in arrays}) > 1:
                raise ValueError(f"x and y must hold the same number of samples; received lengths "
                                 f"{[len(a) for a in arrays]}")
        else:
            x, y = data_adapter.check_arrays(x, y)
        sample = _data.take(x, slice(0, 1))
        self._prepare_inputs(sample)
        self._check_targets(y)
        return x, y

    def _check_targets(self, y):
        """Sparse labels in a form the loss takes ((N,) or (N, 1), ints or integral floats:
        tinydl.losses.sparse_labels) and inside [0, classes), checked before any kernel runs."""
        if y is None or not self._plan:
            return
        for i, (p, yi) in enumerate(zip(self._plan, self._targets(y), strict=True)):
            if yi is not None and hasattr(p.loss, "check_targets"):   # categorical: (N, C) rows
                p.loss.check_targets(yi)
            sparse = isinstance(p.loss, _losses.SparseCategoricalCrossentropy) and \
                not isinstance(p.loss, _losses.CategoricalCrossentropy)
            if yi is None or not sparse:
                continue
            yi = _losses.sparse_labels(yi)
            if self._graph:
                classes = self._outputs[i].shape[-1]
                if yi.size and (yi.min() < 0 or yi.max() >= classes):
                    bad = yi[(yi < 0) | (yi >= classes)][0]
                    raise ValueError(f"labels must lie in [0, {classes}); received a label {int(bad)}")

    def _batches(self, x, y, batch_size, shuffle, sample_weight=None):
        if isinstance(x, (list, tuple, dict)) or isinstance(y, (list, tuple, dict)) or sample_weight is not None:
            return _data.StructBatches(x, y, batch_size, shuffle, sample_weight)
        return data_adapter.ArrayBatches(x, y, batch_size, shuffle)

    def _fit_data(self, x, y, batch_size, shuffle, validation_split, validation_data, sw=None):
        if not isinstance(x, dict) and data_adapter.is_batch_iterable(x):
            if validation_split:
                raise ValueError("validation_split needs arrays; pass validation_data with a DataLoader")
            train = x
        else:
            if y is None:
                raise ValueError("fit needs targets y with array input x")
            x, y = self._check_data(x, y)
            sw = _data.check_weights(sw, _data.batch_len(x))
            if validation_split:
                (x, y), split = _data.split(x, y, validation_split)
                if sw is not None:
                    sw = sw[:_data.batch_len(x)]
                validation_data = validation_data if split is None else split
            train = self._batches(x, y, batch_size, shuffle, sw)
        val = None
        if validation_data is not None:
            if data_adapter.is_batch_iterable(validation_data):
                val = validation_data
            else:
                vx, vy = self._check_data(*validation_data[:2])
                vsw = validation_data[2] if len(validation_data) > 2 else None
                val = self._batches(vx, vy, batch_size, shuffle=False, sample_weight=vsw)
        return train, val

    # -- fit / evaluate / predict -----------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            sample_weight=None, class_weight=None):
        """Keras's training loop; returns the History (``history.history[name]`` per epoch).
        ``sample_weight`` (N,) or ``class_weight`` {class: weight} weigh each sample's loss
        (the batch loss is sum_i w_i * loss_i / N, as in Keras)."""
        self._require_compiled("fit")
        batch_size = 32 if batch_size is None else batch_size
        verbose = _progbar.auto_verbose() if verbose == "auto" else verbose
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("pass sample_weight or class_weight, not both")
            if y is None or isinstance(y, (list, tuple, dict)):
                raise ValueError("class_weight needs array targets y of a single-output model")
            sample_weight = _data.class_weights(class_weight, y)
        train, val = self._fit_data(x, y, batch_size, shuffle, validation_split, validation_data, sample_weight)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1 or initial_epoch >= epochs:
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
        if verbose:
            _progbar.announce_first_compile()     # once per process, when Numba's cache is empty
        cbs.on_train_begin({})
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch, {})
            logs = self._fit_epoch(train, cbs, epoch, stop_on_nan)
            if val is not None and not self.stop_training:
                val_logs = self._evaluate_batches(val, cbs)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end({})
        self.history = history
        return history

    def _fit_epoch(self, batches, cbs, epoch, stop_on_nan):
        for m in self.metrics:
            _reset(m)
        logs = {}
        for step, batch in enumerate(batches):
            cbs.on_train_batch_begin(step, {})
            logs = _data.floats(self.train_step(tuple(batch)))
            loss = logs.get("loss", 0.0)
            if not np.isfinite(loss) and not stop_on_nan:
                raise ValueError(f"the loss became {loss} at epoch {epoch + 1}, batch {step + 1}: "
                                 f"{self._weights_report()}; try a lower learning rate, or pass "
                                 "callbacks=[TerminateOnNaN()] to stop quietly")
            cbs.on_train_batch_end(step, logs)
            if self.stop_training:
                break
        return dict(logs)

    def _weights_report(self):
        """What is true about the weights after a non-finite loss (issue 9, item 18)."""
        params = self.weights
        bad = sum(1 for p in params if not np.isfinite(_device.to_numpy(p.value)).all())
        if bad == 0:
            return "that batch's update was skipped and every weight is still finite"
        return (f"{bad} of {len(params)} weight arrays already hold inf or NaN (an earlier update "
                "overflowed while its loss was still finite), so the model is no longer usable")

    def _evaluate_batches(self, batches, cbs=None):
        for m in self.metrics:
            _reset(m)
        logs = {}
        for step, batch in enumerate(batches):
            if cbs is not None:
                cbs.on_test_batch_begin(step, {})
            logs = _data.floats(self.test_step(tuple(batch)))
            if cbs is not None:
                cbs.on_test_batch_end(step, logs)
        self._last_logs = dict(logs)
        return dict(logs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose=0, return_dict=False, callbacks=None,
                 sample_weight=None):
        """The logs of the last test_step (loss and metrics over the data): a float, a list in
        metrics_names order, or a dict with ``return_dict``."""
        self._require_compiled("evaluate")
        batch_size = 32 if batch_size is None else batch_size
        if data_adapter.is_batch_iterable(x) and not isinstance(x, dict):
            batches = x
        else:
            x, y = self._check_data(x, y)
            sw = _data.check_weights(sample_weight, _data.batch_len(x))
            batches = self._batches(x, y, batch_size, shuffle=False, sample_weight=sw)
        cbs = _callbacks.CallbackList(list(callbacks or []), self, {"verbose": verbose}) if callbacks else None
        logs = self._evaluate_batches(batches, cbs)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        return logs["loss"] if list(logs) == ["loss"] else list(logs.values())

    def predict(self, x, batch_size=None, verbose=0, callbacks=None):
        """The model's outputs for ``x`` as NumPy arrays (final activation applied); a list
        (or dict) of arrays for a model with several outputs."""
        batch_size = 32 if batch_size is None else batch_size
        if data_adapter.is_batch_iterable(x) and not isinstance(x, (list, tuple, dict)):
            batches = ((xb if not isinstance(xb, (tuple, list)) else xb[0],) for xb in x)
            steps = len(x) if hasattr(x, "__len__") else None
        else:
            if not isinstance(x, (list, tuple, dict)):
                x, _ = data_adapter.check_arrays(x)
            batches = ((xb,) for xb, _ in self._batches(x, None, batch_size, shuffle=False))
            steps = -(-_data.batch_len(x) // batch_size)
        cbs = _callbacks.CallbackList(list(callbacks or []), self, {"verbose": verbose})
        bar = _progbar.Progbar(steps) if verbose else None
        outs = []
        for i, batch in enumerate(batches):
            cbs.on_predict_batch_begin(i, {})
            out = self.predict_step(batch)
            outs.append(out)
            cbs.on_predict_batch_end(i, {"outputs": out})
            if bar:
                bar.update(i + 1, finalize=(i + 1 == steps))
        return _data.concat(outs)
