"""Optimizer updates of one parameter array, in place: sgd_update and adam_update (PyTorch's
torch.optim.SGD / Adam / AdamW formulas). The parameter and the state arrays must be
C-contiguous float arrays of one shape and dtype; the gradient may be any float view of them."""
from functools import lru_cache

from tinydl import device as _device
from tinydl.ops import _checks
from tinydl.ops._cache import kernel_section
from tinydl.ops.elementwise import inplace, like

__all__ = ["sgd_update", "adam_update"]


def _state(a, p, name):
    a = inplace(a, name)
    _checks.shape_is(a, name, p.shape)
    _checks.same_dtype(p, **{name: a})
    return a


@lru_cache(maxsize=256)
def _sgd_hparams(lr, momentum, weight_decay):
    # checked once per distinct value: an optimizer passes the same numbers every step
    return (_checks.finite_float(lr, "lr", low=0.0),
            _checks.finite_float(momentum, "momentum", low=0.0, high=1.0, high_open=True),
            _checks.finite_float(weight_decay, "weight_decay", low=0.0))


@lru_cache(maxsize=256)
def _adam_hparams(lr, beta_1, beta_2, epsilon, weight_decay):
    return (_checks.finite_float(lr, "lr", low=0.0),
            _checks.finite_float(beta_1, "beta_1", low=0.0, high=1.0, high_open=True),
            _checks.finite_float(beta_2, "beta_2", low=0.0, high=1.0, high_open=True),
            _checks.finite_float(epsilon, "epsilon", low=0.0, low_open=True),
            _checks.finite_float(weight_decay, "weight_decay", low=0.0))


def _cached(check, *values):
    try:
        return check(*values)
    except TypeError:                      # an unhashable value (e.g. a 0-d array): check it uncached
        return check.__wrapped__(*values)


def sgd_update(p, g, velocity, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """g' = g + wd p; v = momentum v + g' (if momentum); p -= lr (g' + momentum v if nesterov
    else v). ``velocity`` may be None when momentum == 0. Returns None."""
    p = inplace(p, "p")
    g = like(g, p, "g")
    lr, momentum, weight_decay = _cached(_sgd_hparams, lr, momentum, weight_decay)
    if momentum > 0:
        if velocity is None:
            raise ValueError(f"velocity must be an array like p when momentum > 0; received None "
                             f"(momentum={momentum})")
        velocity = _state(velocity, p, "velocity")
    else:
        velocity = None
    with kernel_section():
        _device.backend("optim").sgd_update(p, g, velocity, lr, momentum, bool(nesterov), weight_decay)


def adam_update(p, g, m, v, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                weight_decay=0.0, decoupled=False):
    """Kingma & Ba's Algorithm 1 at step t (1-based); weight decay as L2 in the gradient (Adam)
    or decoupled (AdamW: p -= lr wd p first). p, m and v change in place. Returns None."""
    p = inplace(p, "p")
    g = like(g, p, "g")
    m = _state(m, p, "m")
    v = _state(v, p, "v")
    t = _checks.positive_int(t, "t")
    lr, beta_1, beta_2, epsilon, weight_decay = _cached(_adam_hparams, lr, beta_1, beta_2, epsilon, weight_decay)
    with kernel_section():
        _device.backend("optim").adam_update(p, g, m, v, t, lr, beta_1, beta_2, epsilon,
                                              weight_decay, bool(decoupled))


__all__ += ["rmsprop_update", "adagrad_update"]


def rmsprop_update(p, g, velocity, momentum_buf, lr, rho=0.9, momentum=0.0, epsilon=1e-7,
                   weight_decay=0.0):
    """Keras's RMSprop: g' = g + wd p; v = rho v + (1 - rho) g'^2; inc = lr g' / sqrt(v + eps);
    p -= inc, or through m = momentum m + inc when momentum > 0 (``momentum_buf`` may be None
    otherwise). epsilon sits inside the root (PyTorch adds it outside). Returns None."""
    p = inplace(p, "p")
    g = like(g, p, "g")
    velocity = _state(velocity, p, "velocity")
    lr = _checks.finite_float(lr, "lr", low=0.0)
    rho = _checks.finite_float(rho, "rho", low=0.0, high=1.0, high_open=True)
    momentum = _checks.finite_float(momentum, "momentum", low=0.0, high=1.0, high_open=True)
    epsilon = _checks.finite_float(epsilon, "epsilon", low=0.0, low_open=True)
    weight_decay = _checks.finite_float(weight_decay, "weight_decay", low=0.0)
    if momentum > 0:
        if momentum_buf is None:
            raise ValueError(f"momentum_buf must be an array like p when momentum > 0; received None "
                             f"(momentum={momentum})")
        momentum_buf = _state(momentum_buf, p, "momentum_buf")
    else:
        momentum_buf = None
    with kernel_section():
        _device.backend("optim").rmsprop_update(p, g, velocity, momentum_buf, lr, rho, momentum,
                                                 epsilon, weight_decay)


def adagrad_update(p, g, accumulator, lr, epsilon=1e-7, weight_decay=0.0):
    """Keras's Adagrad: g' = g + wd p; a += g'^2; p -= lr g' / sqrt(a + eps). Returns None."""
    p = inplace(p, "p")
    g = like(g, p, "g")
    accumulator = _state(accumulator, p, "accumulator")
    lr = _checks.finite_float(lr, "lr", low=0.0)
    epsilon = _checks.finite_float(epsilon, "epsilon", low=0.0, low_open=True)
    weight_decay = _checks.finite_float(weight_decay, "weight_decay", low=0.0)
    with kernel_section():
        _device.backend("optim").adagrad_update(p, g, accumulator, lr, epsilon, weight_decay)
