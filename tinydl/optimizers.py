"""Optimizers in order of increasing complexity: SGD (with momentum, Nesterov), Adam, AdamW,
then RMSprop and Adagrad (Keras's formulas). Each is a few lines over one fused update kernel
(tinydl.ops.sgd_update / adam_update / rmsprop_update / adagrad_update) that
changes a parameter and its optimizer state in place.

    opt.step(model.trainable_weights)   # one update of every parameter that has a .grad
"""
import math

import numpy as np

from tinydl import _config, ops
from tinydl import device as _device
from tinydl._validate import finite_float, positive_int
from tinydl.ops import optim as _optim_ops


# -- learning-rate schedules (a function of the 0-based step, as in Keras) ----------------------
class LearningRateSchedule:
    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} has no get_config: it cannot be saved")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """lr = initial * decay_rate ** (step / decay_steps) (floored exponent when staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial = finite_float(initial_learning_rate, "initial_learning_rate", low=0.0)
        self.decay_steps = positive_int(decay_steps, "decay_steps")
        self.decay_rate = finite_float(decay_rate, "decay_rate", low=0.0)
        self.staircase = staircase

    def get_config(self):
        return {"initial_learning_rate": self.initial, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase}

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial * self.decay_rate ** (math.floor(p) if self.staircase else p)


class CosineDecay(LearningRateSchedule):
    """lr = initial * ((1 - alpha) * (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2 + alpha)."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0):
        self.initial = finite_float(initial_learning_rate, "initial_learning_rate", low=0.0)
        self.decay_steps = positive_int(decay_steps, "decay_steps")
        self.alpha = finite_float(alpha, "alpha", low=0.0, high=1.0)

    def get_config(self):
        return {"initial_learning_rate": self.initial, "decay_steps": self.decay_steps, "alpha": self.alpha}

    def __call__(self, step):
        frac = min(step, self.decay_steps) / self.decay_steps
        return self.initial * ((1 - self.alpha) * 0.5 * (1 + math.cos(math.pi * frac)) + self.alpha)


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] while boundaries[i-1] < step <= boundaries[i] (Keras's rule)."""

    def __init__(self, boundaries, values):
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"PiecewiseConstantDecay needs len(values) == len(boundaries) + 1; "
                f"received {len(boundaries)} boundaries and {len(values)} values"
            )
        self.boundaries, self.values = list(boundaries), [float(v) for v in values]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values}

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values[:-1], strict=True):
            if step <= b:
                return v
        return self.values[-1]


_SCHEDULES = {"ExponentialDecay": ExponentialDecay, "CosineDecay": CosineDecay,
              "PiecewiseConstantDecay": PiecewiseConstantDecay}


class schedules:  # noqa: N801 - namespace, as optimizers.schedules.* in Keras
    LearningRateSchedule = LearningRateSchedule
    ExponentialDecay = ExponentialDecay
    CosineDecay = CosineDecay
    PiecewiseConstantDecay = PiecewiseConstantDecay


def _params_device(params) -> str:
    """'cuda' for weights on the GPU (a model moved with .to("cuda")), else the active device."""
    if params and _device.is_device_array(params[0].value):
        return "cuda"
    return _device.get_device()


def _device_of(p) -> str:
    return "cuda" if _device.is_device_array(p.value) else "cpu"


# -- the optimizers -------------------------------------------------------------------------
_UNDERFLOW = 1e-280      # below this a sum of squares may have lost digits to underflow


def _l2_norm(grads) -> float:
    """sqrt(sum of g**2) over ``grads``, without overflow.

    The fast path sums squares in float64 (ops.sum_squares): exact enough, and it cannot
    overflow for float32 gradients. A float64 gradient above ~1e154 overflows it to inf, one
    below ~1e-154 underflows it towards 0; then the norm is taken as m * sqrt(sum((g / m)**2))
    with m = max|g|, on the host. A gradient that
    holds inf gives inf (clipping scales by 0: inf * 0 is NaN, so TerminateOnNaN sees it), one
    that holds NaN gives NaN (no clipping; the NaN flows on)."""
    total = sum(ops.sum_squares(g) for g in grads)
    if math.isfinite(total) and total > _UNDERFLOW:
        return math.sqrt(total)
    host = [np.abs(_device.to_numpy(g).astype(np.float64, copy=False)) for g in grads]
    m = max(float(np.max(h)) if h.size else 0.0 for h in host)
    if m == 0.0 or not math.isfinite(m):
        return m
    return m * math.sqrt(sum(float(np.sum(np.square(h / m))) for h in host))


class Optimizer:
    def __init__(self, learning_rate, weight_decay=0.0, clipnorm=None, global_clipnorm=None):
        self.learning_rate = learning_rate
        self.weight_decay = finite_float(weight_decay, "weight_decay", low=0.0)
        self.clipnorm = None if clipnorm is None else finite_float(clipnorm, "clipnorm", low=0.0, low_open=True)
        self.global_clipnorm = (None if global_clipnorm is None
                                else finite_float(global_clipnorm, "global_clipnorm", low=0.0, low_open=True))
        self.iterations = 0
        self._state: dict[int, dict] = {}

    @property
    def learning_rate(self):
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if not isinstance(value, LearningRateSchedule) and not callable(value):
            value = finite_float(value, "learning_rate", low=0.0)
        self._learning_rate = value

    def current_learning_rate(self) -> float:
        lr = self._learning_rate
        return float(lr(self.iterations)) if callable(lr) else lr

    def step(self, params) -> None:
        """Update every parameter in ``params`` that has a gradient, then count the step."""
        params = [p for p in params if p.grad is not None]
        with _device.using(_params_device(params)):     # the update runs where the weights live
            self._clip(params)
            lr = self.current_learning_rate()
            for p in params:
                state = self._state.setdefault(id(p), {})
                self._update(p, state, lr, self.iterations + 1)
        self.iterations += 1

    def apply(self, grads, params) -> None:
        """Keras's apply(grads, variables): each gradient (None skips) into its parameter's
        .grad, then one step. For a GradientTape loop."""
        grads, params = list(grads), list(params)
        if len(grads) != len(params):
            raise ValueError(f"apply needs one gradient per parameter; received {len(grads)} for {len(params)}")
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        self.step(params)

    def _clip(self, params):
        if self.clipnorm is not None:
            for p in params:
                norm = _l2_norm([p.grad])
                if norm > self.clipnorm:
                    ops.scale_(p.grad, self.clipnorm / norm)
        if self.global_clipnorm is not None and params:
            norm = _l2_norm([p.grad for p in params])
            if norm > self.global_clipnorm:
                for p in params:
                    ops.scale_(p.grad, self.global_clipnorm / norm)

    def _slot(self, state, key, p):
        """A zero-initialised state array shaped like ``p``, on ``p``'s device."""
        if key not in state:
            state[key] = _device.to_device(np.zeros(p.shape, dtype=p.dtype), _device_of(p))
        return state[key]

    def _update(self, p, state, lr, t):
        raise NotImplementedError

    # -- saving ---------------------------------------------------------------------------
    def get_config(self):
        """The constructor's arguments; a schedule as {"class_name", "config"}."""
        config = _config.init_config(self)
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            config["learning_rate"] = {"class_name": type(lr).__name__, "config": lr.get_config()}
        elif callable(lr):
            raise ValueError(f"{type(self).__name__}: a learning_rate that is a plain function cannot be "
                             "saved; use a float or an optimizers.schedules.LearningRateSchedule")
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            classes = {**_SCHEDULES, **_config.custom_objects(custom_objects)}
            if lr.get("class_name") not in classes:
                raise ValueError(f"unknown learning-rate schedule {lr.get('class_name')!r}; expected one of "
                                 f"{sorted(_SCHEDULES)} (pass custom_objects for your own)")
            config["learning_rate"] = classes[lr["class_name"]].from_config(dict(lr.get("config", {})))
        return cls(**config)

    def get_state(self, params) -> dict:
        """The step count and the state arrays of ``params`` on the host: {"iterations": n,
        "<i>.<slot>": array}, i the position in ``params`` (e.g. "3.m": Adam's m of params[3])."""
        out = {"iterations": np.array(self.iterations, dtype=np.int64)}
        for i, p in enumerate(params):
            for key, value in self._state.get(id(p), {}).items():
                out[f"{i}.{key}"] = _device.to_numpy(value).copy()
        return out

    def set_state(self, params, state) -> None:
        """The inverse of ``get_state``: checks every array first, then sets them all."""
        params, new = list(params), {}
        for name, value in state.items():
            if name == "iterations":
                continue
            index, _, key = name.partition(".")
            if not index.isdigit() or int(index) >= len(params) or not key:
                raise ValueError(f"optimizer state {name!r} names no weight of the {len(params)} given")
            p = params[int(index)]
            if tuple(value.shape) != p.shape or value.dtype != p.dtype:
                raise ValueError(f"optimizer state {name!r} is {value.dtype}{tuple(value.shape)}; "
                                 f"its weight {p.name!r} is {p.dtype}{p.shape}")
            new.setdefault(id(p), {})[key] = _device.to_device(np.array(value), _device_of(p))
        self._state.update(new)
        self.iterations = int(state.get("iterations", self.iterations))


class SGD(Optimizer):
    """v = momentum * v + (g + wd * p);  p -= lr * (nesterov ? g + wd*p + momentum * v : v)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.momentum = finite_float(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self.nesterov = bool(nesterov)

    def _update(self, p, state, lr, t):
        velocity = self._slot(state, "velocity", p) if self.momentum > 0 else None
        ops.sgd_update(p.value, p.grad, velocity, lr, self.momentum, self.nesterov, self.weight_decay)


class Adam(Optimizer):
    """Kingma & Ba's Algorithm 1 with bias correction; weight_decay as an L2 term in the gradient."""
    decoupled = False

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.beta_1 = finite_float(beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        self.beta_2 = finite_float(beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        self.epsilon = finite_float(epsilon, "epsilon", low=0.0, low_open=True)

    def _update(self, p, state, lr, t):
        m, v = self._slot(state, "m", p), self._slot(state, "v", p)
        ops.adam_update(p.value, p.grad, m, v, t, lr, self.beta_1, self.beta_2, self.epsilon,
                        self.weight_decay, self.decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay: p -= lr * wd * p, then the Adam step on the raw gradient."""
    decoupled = True

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.004, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, **kwargs)


class RMSprop(Optimizer):
    """Keras's RMSprop: v = rho v + (1 - rho) g^2;  inc = lr g / sqrt(v + epsilon);
    p -= inc, or m = momentum m + inc; p -= m. epsilon sits INSIDE the root (PyTorch's RMSprop
    adds it outside: the two agree when epsilon is negligible next to v)."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, weight_decay=0.0, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.rho = finite_float(rho, "rho", low=0.0, high=1.0, high_open=True)
        self.momentum = finite_float(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self.epsilon = finite_float(epsilon, "epsilon", low=0.0, low_open=True)

    def _update(self, p, state, lr, t):
        momentum = self._slot(state, "momentum", p) if self.momentum > 0 else None
        _optim_ops.rmsprop_update(p.value, p.grad, self._slot(state, "velocity", p), momentum, lr,
                                  self.rho, self.momentum, self.epsilon, self.weight_decay)


class Adagrad(Optimizer):
    """Keras's Adagrad: a = initial_accumulator_value at the start; a += g^2;
    p -= lr g / sqrt(a + epsilon) (PyTorch's Adagrad: epsilon outside the root)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=0.0,
                 **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.initial_accumulator_value = finite_float(
            initial_accumulator_value, "initial_accumulator_value", low=0.0)
        self.epsilon = finite_float(epsilon, "epsilon", low=0.0, low_open=True)

    def _update(self, p, state, lr, t):
        if "accumulator" not in state:
            dev = "cuda" if _device.is_device_array(p.value) else "cpu"
            start = np.full(p.shape, self.initial_accumulator_value, dtype=p.dtype)
            state["accumulator"] = _device.to_device(start, dev)
        _optim_ops.adagrad_update(p.value, p.grad, state["accumulator"], lr, self.epsilon, self.weight_decay)


ALIASES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(optimizer) -> Optimizer:
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in ALIASES:
        return ALIASES[optimizer.lower()]()
    raise ValueError(
        f"unknown optimizer; expected a tinydl.optimizers.Optimizer or one of {sorted(ALIASES)}; "
        f"received {optimizer!r}"
    )
