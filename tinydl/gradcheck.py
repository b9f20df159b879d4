"""Finite-difference gradient checks: every element, central differences, float64.

    numeric  = (f(x + eps) - f(x - eps)) / (2 eps)        for each element of each input
    analytic = what backward() returned
    pass     if |analytic - numeric| <= atol + rtol * |numeric| everywhere

``f`` is a scalar made from the output with a fixed random projection, f = sum(out * R), so its
gradient with respect to the output is exactly R: backward(R) gives the analytic gradients.
The caller's arrays are never modified: the check perturbs copies.

Nothing is skipped silently: every float input (or those named by ``wrt``) and every trainable
weight must receive a gradient; a missing or None one fails, naming the input or weight.
"""
import numpy as np

from tinydl import device as _device


class GradcheckError(AssertionError):
    """The analytic and numeric gradients disagree; the message names the worst entry."""


def gradcheck(fn_or_layer, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, kwargs=None, training=True, seed=0,
              wrt=None):
    """Check ``fn_or_layer``'s gradients by central differences. Returns True or raises.

    fn_or_layer:
      - a Layer or a model (anything callable with ``training=`` and a ``backward``): checks
        dInput and the gradient of every weight; ``inputs`` an array or a list of arrays
      - an op pair ``(forward, backward)`` from tinydl.ops: ``forward(*inputs, **kwargs)``
        returns ``(out, cache)``, ``backward(dout, cache)`` the gradients of the float inputs in
        order (non-float inputs such as labels and masks pass through unperturbed)
      - a loss from tinydl.losses with ``inputs = [y_true, y_pred]``: checks dLoss/dy_pred

    The k-th gradient returned by backward belongs to the k-th float input. Every float input
    is checked, unless ``wrt`` (positions in ``inputs``) names the ones that have a gradient:
    e.g. ``wrt=(0, 1, 2)`` for batch norm's (x, gamma, beta, moving_mean, moving_variance), or
    ``wrt=(0,)`` for a loss op's (pred, soft_target). Every trainable weight is checked always.
    """
    from tinydl.losses import Loss

    if _device.get_device() == "cuda":
        raise ValueError("gradcheck runs on the 'reference' or 'cpu' device; received 'cuda'")
    rng = np.random.default_rng(seed)
    if isinstance(fn_or_layer, tuple) and len(fn_or_layer) == 2:
        check = _OpPair(fn_or_layer, inputs, kwargs or {}, rng, wrt)
    elif isinstance(fn_or_layer, Loss):
        check = _LossCheck(fn_or_layer, inputs)
    elif hasattr(fn_or_layer, "backward") and callable(fn_or_layer):
        check = _LayerCheck(fn_or_layer, inputs, training, rng, wrt)
    else:
        raise TypeError(
            "gradcheck expects a Layer, a model, an op pair (forward, backward) or a Loss; "
            f"received {type(fn_or_layer).__name__}"
        )
    for name, array, analytic in check.targets():
        _compare(name, analytic, _numeric(check.value, array, eps), atol, rtol)
    return True


def _as64(a):
    a = _device.to_numpy(a)
    return np.array(a, dtype=np.float64) if a.dtype.kind == "f" else np.array(a)


def _numeric(f, array, eps):
    """Central differences of the scalar f() with respect to every element of ``array``
    (perturbed in place and restored)."""
    grad = np.zeros(array.shape, dtype=np.float64)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        plus = f()
        flat[i] = keep - eps
        minus = f()
        flat[i] = keep
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def _compare(name, analytic, numeric, atol, rtol):
    if analytic is None:
        raise GradcheckError(f"{name}: backward returned no gradient")
    analytic = _device.to_numpy(analytic).astype(np.float64)
    if analytic.shape != numeric.shape:
        raise GradcheckError(f"{name}: gradient shape {analytic.shape}, expected {numeric.shape}")
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if excess.size and excess.max() > 0:
        i = np.unravel_index(np.argmax(excess), excess.shape)
        raise GradcheckError(
            f"{name}: gradient mismatch at index {tuple(int(t) for t in i)}: "
            f"analytic {analytic[i]:.10g}, numeric {numeric[i]:.10g} "
            f"(atol={atol}, rtol={rtol}; {int((excess > 0).sum())} of {excess.size} entries off)"
        )


def _checked_inputs(xs, wrt):
    """[(position, array)] of the float inputs, and the positions whose gradient is checked."""
    floats = [(k, x) for k, x in enumerate(xs) if x is not None and x.dtype.kind == "f"]
    positions = [k for k, _ in floats]
    if wrt is None:
        return floats, set(positions)
    wrt = [wrt] if isinstance(wrt, (int, np.integer)) else list(wrt)
    bad = [k for k in wrt if k not in positions]
    if bad:
        raise ValueError(f"gradcheck: wrt must name float inputs, positions {positions}; received wrt={wrt}")
    return floats, set(int(k) for k in wrt)


def _input_targets(floats, checked, grads):
    """(name, array, gradient) for every checked input; a missing or None gradient fails."""
    grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
    for i, (k, x) in enumerate(floats):
        if k not in checked:
            continue
        if i >= len(grads):
            raise GradcheckError(f"input {k}: backward returned no gradient (it returned "
                                 f"{len(grads)} for {len(floats)} float inputs)")
        if grads[i] is None:
            raise GradcheckError(f"input {k}: backward returned None as its gradient")
        yield f"input {k}", x, grads[i]


class _LayerCheck:
    def __init__(self, layer, inputs, training, rng, wrt=None):
        single = not isinstance(inputs, (list, tuple))
        self.layer, self.training = layer, training
        self.xs = [_as64(x) for x in ([inputs] if single else inputs)]
        self.floats, self.checked = _checked_inputs(self.xs, wrt)
        self._check_float64()
        out = self._forward()
        self._check_float64()
        self.R = rng.standard_normal(np.shape(out))

    def _check_float64(self):
        for p in self.layer.weights:
            if p.dtype != np.float64:
                raise ValueError(
                    f"gradcheck needs float64 weights; {p.name} is {p.dtype} "
                    "(build the layer by calling it on float64 input first)"
                )

    def _forward(self):
        return _device.to_numpy(self.layer(*self.xs, training=self.training))

    def value(self):
        return float(np.sum(self._forward() * self.R))

    def targets(self):
        self.layer.zero_grad()
        self._forward()
        dxs = self.layer.backward(self.R)
        grads = {id(p): p.grad for p in self.layer.trainable_weights}
        yield from _input_targets(self.floats, self.checked, dxs)
        for p in self.layer.trainable_weights:
            yield f"weight {p.name}", p.value, grads[id(p)]


class _OpPair:
    def __init__(self, pair, inputs, kwargs, rng, wrt=None):
        self.forward, self.backward = pair
        self.xs = [_as64(x) if x is not None else None for x in inputs]
        self.floats, self.checked = _checked_inputs(self.xs, wrt)
        self.kwargs = kwargs
        out, _ = self.forward(*self.xs, **kwargs)
        self.R = rng.standard_normal(np.shape(out)) if np.ndim(out) else float(rng.standard_normal())

    def value(self):
        out, _ = self.forward(*self.xs, **self.kwargs)
        return float(np.sum(_device.to_numpy(out) * self.R))

    def targets(self):
        _, cache = self.forward(*self.xs, **self.kwargs)
        yield from _input_targets(self.floats, self.checked, self.backward(self.R, cache))


class _LossCheck:
    def __init__(self, loss, inputs):
        y_true, y_pred = inputs
        self.loss, self.y_true, self.y_pred = loss, _as64(y_true), _as64(y_pred)

    def value(self):
        return float(self.loss(self.y_true, self.y_pred))

    def targets(self):
        self.value()
        yield "y_pred", self.y_pred, self.loss.backward()
