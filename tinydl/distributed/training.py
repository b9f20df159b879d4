"""Data-parallel training: every rank holds the whole model and a slice of each global batch.

    opt = DistributedOptimizer(optimizers.Adam(1e-3))     # gradients averaged before each update
    model.compile(optimizer=opt, loss=...)
    model.fit(loader, callbacks=[BroadcastWeights(root=0)])

One step on N ranks equals one step of one process on the N slices together: with the loss a
mean over the batch, the gradient of the global batch is the mean of the ranks' gradients, and
averaging happens before the wrapped optimizer sees them, so clipping, weight decay and the
optimizer's state act on the global gradient exactly as in one process. Every rank then applies
the same update to the same weights (BroadcastWeights makes them the same at the start) and
the ranks stay bit-identical.

Batch norm is the exception: by default each rank normalizes with its own batch's statistics
(and its moving statistics drift apart). BatchNormalization(synchronized=True) averages them.
"""
import numpy as np

from tinydl import callbacks as _callbacks
from tinydl import device as _device
from tinydl import optimizers as _optimizers
from tinydl.distributed import collectives as _comm
from tinydl.distributed import reduce as _reduce

_OWN = ("_inner", "_reducer", "_world")


class DistributedOptimizer(_optimizers.Optimizer):
    """Wraps ``optimizer``: step() first averages every gradient across the ranks (the reduction
    ``version`` of tinydl/distributed/reduce.py, DEFAULT when None), then runs the wrapped step.

    Everything else (learning_rate, iterations, state, get_config) is the wrapped optimizer's:
    a LearningRateScheduler or a saved model sees the optimizer it knows. Version 3 overlaps
    communication with backward once attached to a model: BroadcastWeights attaches it in fit;
    a custom loop calls ``opt.attach(model)``."""

    def __init__(self, optimizer, version=None, bucket_mb=None):
        inner = _optimizers.get(optimizer)
        if isinstance(inner, DistributedOptimizer):
            raise TypeError("DistributedOptimizer expects a plain optimizer; received one already distributed")
        world = _comm.init()
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_world", world)
        object.__setattr__(self, "_reducer", _reduce.reducer(world, version, bucket_mb) if world.size > 1 else None)

    # everything not defined here is the wrapped optimizer's, read and written
    def __getattr__(self, name):
        return getattr(object.__getattribute__(self, "_inner"), name)

    def __setattr__(self, name, value):
        if name in _OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self._inner, name, value)

    @property
    def learning_rate(self):
        return self._inner.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._inner.learning_rate = value

    @property
    def optimizer(self):
        """The wrapped optimizer."""
        return self._inner

    @property
    def version(self):
        return None if self._reducer is None else self._reducer.version

    def attach(self, model):
        """Let version 3 start each bucket's allreduce during ``model``'s backward."""
        if self._reducer is not None:
            self._reducer.attach(model)
        return self

    def detach(self):
        if self._reducer is not None:
            self._reducer.detach()
        return self

    def reduce_gradients(self, params):
        """Average the gradient of every parameter in ``params`` that has one, across the ranks."""
        with_grad = [p for p in params if p.grad is not None]
        if self._reducer is not None:
            self._reducer.reduce(with_grad)

    def step(self, params) -> None:
        params = list(params)
        self.reduce_gradients(params)
        self._inner.step(params)

    def apply(self, grads, params):
        """Keras 3's optimizer.apply(grads, weights): average ``grads`` across the ranks, then
        apply them with the wrapped optimizer."""
        holders = [_Grad(g) for g in grads]
        self.reduce_gradients(holders)
        averaged = [h.grad for h in holders]
        if hasattr(self._inner, "apply"):
            return self._inner.apply(averaged, params)
        for p, g in zip(params, averaged, strict=True):
            p.grad = g
        return self._inner.step(params)

    def get_config(self):
        return self._inner.get_config()

    def __repr__(self):
        return f"DistributedOptimizer({self._inner!r}, version={self.version}, world={self._world.size})"


class _Grad:
    """A gradient array seen as a parameter's .grad (what the reducers read and write)."""

    def __init__(self, g):
        self.grad = g

    @property
    def dtype(self):
        return self.grad.dtype


# -- the same start on every rank ---------------------------------------------------------------
def broadcast_weights(model, root=0):
    """Give every weight of ``model`` (trainable or not) rank ``root``'s value, in place."""
    world = _comm.init()
    if world.size == 1:
        return
    for p in model.weights:
        if _device.is_device_array(p.value):             # host staging
            host = np.ascontiguousarray(_device.to_numpy(p.value))
            world.Bcast(host, root=root)
            p.value = _device.to_device(host, "cuda")
        elif p.value.flags.c_contiguous and p.value.flags.writeable:
            world.Bcast(p.value, root=root)              # in place: layers keep their arrays
        else:
            host = np.ascontiguousarray(p.value)
            world.Bcast(host, root=root)
            p.value = host


def broadcast_optimizer_state(optimizer, params, root=0):
    """Give ``optimizer``'s per-parameter state (momentum, Adam's moments) and step count for
    ``params`` rank ``root``'s values; a rank whose state is missing gets root's."""
    world = _comm.init()
    if world.size == 1 or optimizer is None:
        return
    inner = optimizer.optimizer if isinstance(optimizer, DistributedOptimizer) else optimizer
    if not hasattr(inner, "_state"):
        return
    params = list(params)
    mine = {i: {k: _device.to_numpy(v) for k, v in inner._state.get(id(p), {}).items()}
            for i, p in enumerate(params)}
    theirs = world.bcast((inner.iterations, mine) if world.rank == root else None, root=root)
    inner.iterations = theirs[0]
    for i, p in enumerate(params):
        on_device = _device.is_device_array(p.value)
        state = {k: _device.to_device(np.array(v), "cuda") if on_device else np.array(v)
                 for k, v in theirs[1][i].items()}
        if state:
            inner._state[id(p)] = state
        else:
            inner._state.pop(id(p), None)


def average_logs(logs):
    """Replace each number in ``logs`` by its mean over the ranks (in place; sorted keys, one
    Allreduce). Every rank must hold the same keys."""
    world = _comm.init()
    if world.size == 1 or not logs:
        return logs
    keys = sorted(k for k, v in logs.items() if isinstance(v, (int, float, np.number)))
    values = np.array([float(logs[k]) for k in keys], np.float64)
    from mpi4py import MPI
    world.Allreduce(MPI.IN_PLACE, values, op=MPI.SUM)
    values /= world.size
    for k, v in zip(keys, values, strict=True):
        logs[k] = float(v)
    return logs


class MetricAverage(_callbacks.Callback):
    """The logs of every batch and epoch averaged over the ranks, so that the progress bar, the
    History, CSVLogger and EarlyStopping see global values (each rank runs as many batches of
    the same size, so the mean of the ranks' running means is the global mean). Put it first
    in the callbacks list: callbacks run in order. A logs dict seen twice in a row (a fit that
    calls both on_train_batch_end and its alias on_batch_end) is averaged once."""

    def __init__(self):
        super().__init__()
        self._last = None
        self.average_metrics = True

    def _average(self, logs):
        if self.average_metrics and logs is not None and logs is not self._last:
            average_logs(logs)
            self._last = logs

    def on_batch_end(self, batch, logs=None):
        self._average(logs)

    def on_train_batch_end(self, batch, logs=None):
        self._average(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._average(logs)


class BroadcastWeights(MetricAverage):
    """At the start of fit, every rank takes rank ``root``'s weights and optimizer state, so
    that all ranks start alike; attaches a DistributedOptimizer to the model (for version 3's
    overlap) and, with ``average_metrics`` (default), averages the logs as MetricAverage does.
    Put it first in the callbacks list. The model must be built before fit (start it with
    layers.Input): weights made by the first batch would differ during that batch's step."""

    def __init__(self, root=0, average_metrics=True):
        super().__init__()
        world = _comm.init()
        if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or not 0 <= root < world.size:
            raise ValueError(f"BroadcastWeights: root must be a rank in [0, {world.size}); received root={root!r}")
        self.root, self.average_metrics = int(root), bool(average_metrics)

    def on_train_begin(self, logs=None):
        model = self.model
        if not getattr(model, "built", True):
            try:
                model.build()
            except ValueError:
                raise ValueError(
                    "BroadcastWeights needs a built model before fit, so that every rank starts "
                    "from rank 0's weights: start the model with layers.Input(shape) or call "
                    "model.build(input_shape)") from None
        broadcast_weights(model, self.root)
        opt = getattr(model, "optimizer", None)
        broadcast_optimizer_state(opt, model.trainable_weights, self.root)
        if isinstance(opt, DistributedOptimizer):
            opt.attach(model)

    def on_train_end(self, logs=None):
        opt = getattr(self.model, "optimizer", None)
        if isinstance(opt, DistributedOptimizer):
            opt.detach()                               # the model's layers as they were
