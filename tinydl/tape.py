"""The layer-level tape: what a model's forward did, kept so that backward can replay it.

tinydl has no tensor autograd: every layer writes its own ``backward``. A tape records calls,
not array operations: each entry (a Record) is one layer (or loss) call with

    inputs   the arrays the call received (the ones it can return gradients for)
    outputs  the arrays it returned
    state    the layer's attributes as the call left them (its caches), so that a layer called
             at two places keeps one cache per call

Backward walks the records in reverse. The gradient of each array is kept by the array's
identity; where an array fed several calls (fan-out) the contributions are summed.

    with td.GradientTape() as tape:              # records every top-level layer and loss call
        logits = model(x, training=True)
        loss = loss_fn(y, logits)
    grads = tape.gradient(loss, model.trainable_weights)   # arrays, in the order given
    optimizer.apply(grads, model.trainable_weights)

Models use the same tape inside: a Model's forward records the calls of its layers (a
functional graph in topological order, a subclassed model whatever its ``call`` does), and
``model.backward`` replays them. Calls a layer makes inside its own ``call`` (a Residual's
block) are not recorded separately: that layer's backward handles them.
"""
import threading
from contextlib import contextmanager

import numpy as np

from tinydl import device as _device

_local = threading.local()
_MISSING = object()


def _stack():
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def active():
    """The tape that records the current call, or None (no tape, or inside a layer's call)."""
    stack = _stack()
    return stack[-1] if stack else None


@contextmanager
def recording(tape):
    """Calls made in the block record onto ``tape``; ``None`` pauses recording."""
    stack = _stack()
    stack.append(tape)
    try:
        yield tape
    finally:
        stack.pop()


# ---- the state of a call ----------------------------------------------------------------------
def capture(objects):
    """A shallow copy of each object's attributes: what one call left behind."""
    return [(obj, dict(obj.__dict__)) for obj in objects]


@contextmanager
def swapped_in(state):
    """Run the block with a captured state put back; afterwards every attribute the block did
    not reassign returns to its current value (later calls' caches, counters)."""
    current = [dict(obj.__dict__) for obj, _ in state]
    for obj, attrs in state:
        obj.__dict__.update(attrs)
    try:
        yield
    finally:
        for (obj, attrs), now in zip(state, current, strict=True):
            for k, v in attrs.items():
                if obj.__dict__.get(k, _MISSING) is v and k in now:
                    obj.__dict__[k] = now[k]


# ---- input gradients nobody needs -------------------------------------------------------------
def input_grad_needed(layer) -> bool:
    """False while ``layer``'s backward runs for a call whose input gradient nobody needs (the
    model's data in a training step): the layer may then return None instead of computing dx.
    Only the layer the replay called is told, not the layers its own backward calls."""
    return getattr(_local, "no_input_grad", None) is not layer


@contextmanager
def _without_input_grad(layer):
    before = getattr(_local, "no_input_grad", None)
    _local.no_input_grad = layer
    try:
        yield
    finally:
        _local.no_input_grad = before


# ---- records and replay -----------------------------------------------------------------------
class Record:
    """One call: ``fn`` (a layer or a loss), its input and output arrays, its state."""
    __slots__ = ("fn", "inputs", "outputs", "single", "state")

    def __init__(self, fn, inputs, outputs, single, state):
        self.fn, self.inputs, self.outputs, self.single, self.state = fn, inputs, outputs, single, state


def flatten(x):
    """The arrays in ``x`` (an array, or a list / tuple / dict of them), in order."""
    if isinstance(x, dict):
        return [a for v in x.values() for a in flatten(v)]
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in flatten(v)]
    return [x] if x is not None and hasattr(x, "shape") else []


def zeros_like(a):
    host = np.zeros(tuple(a.shape), dtype=a.dtype)
    return _device.to_device(host, "cuda") if _device.is_device_array(a) else host


def _add_grad(grads, a, g):
    from tinydl import ops

    key = id(a)
    grads[key] = g if key not in grads else ops.add(grads[key], g)


class Tape:
    def __init__(self):
        self.records: list[Record] = []

    def record(self, fn, inputs, outputs, state):
        single = not isinstance(outputs, (list, tuple))
        self.records.append(Record(fn, flatten(inputs), [outputs] if single else list(outputs), single, state))

    def replay(self, grads, wanted=None):
        """Backward through every record, newest first. ``grads`` maps id(array) to dLoss/darray
        (the seeds); returns it with the gradients of every recorded input added.

        ``wanted``: the ids of the arrays, besides the records' own outputs, whose gradients the
        caller needs (None: every input's). A call none of whose inputs is needed (the first
        layer, on the model's data, in a training step) runs its backward under
        ``input_grad_needed(layer) == False`` and may skip its dx."""
        needed = None if wanted is None else {id(o) for r in self.records for o in r.outputs} | set(wanted)
        for rec in reversed(self.records):
            douts = [grads.pop(id(o), None) for o in rec.outputs]
            if all(d is None for d in douts):
                continue                            # this call does not reach the loss
            douts = [zeros_like(o) if d is None else d for o, d in zip(rec.outputs, douts, strict=True)]
            skip = needed is not None and not any(id(x) in needed for x in rec.inputs)
            with swapped_in(rec.state), _without_input_grad(rec.fn if skip else None):
                dins = backward_of(rec.fn, douts[0] if rec.single else douts, len(rec.inputs))
            for x, dx in zip(rec.inputs, dins, strict=True):
                if dx is not None:
                    _add_grad(grads, x, dx)
        return grads


def backward_of(fn, dout, n_inputs):
    """``fn``'s input gradients as a list of ``n_inputs`` (a loss: dLoss/dy_pred)."""
    from tinydl.losses import Loss

    if isinstance(fn, Loss):
        return [fn.backward(dout)]
    if type(fn).backward is _layer_backward_base():
        raise NotImplementedError(
            f"{type(fn).__name__} has no backward: tinydl has no tensor autograd, so a custom "
            "layer must define backward(self, dout) returning dLoss/dInput (and accumulate its "
            "weights' gradients with param.accumulate_grad)")
    if n_inputs > 1 and hasattr(fn, "backward_all"):
        dins = list(fn.backward_all(dout))[:n_inputs]
    else:
        dins = fn.backward(dout)
    dins = list(dins) if isinstance(dins, (list, tuple)) else [dins]
    if len(dins) != n_inputs:
        raise ValueError(f"{fn.name}: backward returned {len(dins)} gradient(s) for a call on "
                         f"{n_inputs} input(s)")
    return dins


def _layer_backward_base():
    from tinydl.layers.base import Layer
    return Layer.__dict__["backward"]


# ---- the public tape --------------------------------------------------------------------------
class GradientTape(Tape):
    """Records the top-level layer, model and loss calls made inside its ``with`` block."""

    def __enter__(self):
        self.records = []
        self._ctx = recording(self)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        return False

    def record_loss(self, loss_fn, y_pred, value):
        self.records.append(Record(loss_fn, [y_pred], [value], True, capture([loss_fn])))

    def gradient(self, target, sources, output_gradients=None):
        """dtarget/dsource for each source (a Parameter or a recorded input array), in order;
        None for a source the target does not depend on. ``target`` is a loss value returned
        inside the block, or a recorded output array with ``output_gradients`` of its shape.
        Nothing is changed: the parameters' own .grad are left as they were."""
        single = not isinstance(sources, (list, tuple))
        sources = [sources] if single else list(sources)
        n = self._target_index(target, output_gradients)
        seeds = {id(target): 1.0 if output_gradients is None else output_gradients}
        records = self.records[:n + 1]
        params = {id(p): p for rec in records for p in getattr(rec.fn, "weights", [])}
        kept = {k: p.grad for k, p in params.items()}
        for p in params.values():
            p.grad = None
        try:
            replay = Tape()
            replay.records = records
            grads = replay.replay(seeds)
            out = [s.grad if id(s) in params else grads.get(id(s)) for s in sources]
        finally:
            for k, p in params.items():
                p.grad = kept[k]
        return out[0] if single else out

    def _target_index(self, target, output_gradients):
        for i in range(len(self.records) - 1, -1, -1):
            if any(o is target for o in self.records[i].outputs):
                if hasattr(target, "shape") and output_gradients is None:
                    raise ValueError("gradient of an array target needs output_gradients "
                                     "(dLoss/dtarget, an array of the target's shape)")
                return i
        raise ValueError(
            "GradientTape.gradient: the target was not computed inside this tape. Call the model "
            "and the loss object inside the `with` block and pass the value the loss returned "
            "(tinydl records layer and loss calls, not arithmetic on their results)")
