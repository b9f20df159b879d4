"""Optimizer updates on the CPU (Numba). One implementation each, so no VERSIONS table.

NumPy would run an update as a chain of whole-array passes (m *= b1, m += ..., v *= ...,
sqrt, divide, p -= ...), each reading and writing memory again. Here each update is ONE loop
over the parameter (parallel over the elements) that reads p, g and the state once and writes
them once. Hyperparameters are cast to the parameter's dtype first, so the float32 arithmetic is
the reference's, in the same order.
"""
import numpy as np
from numba import njit, prange

# SGD and Adam run one thread below this many elements: waking the second thread for a parallel
# region cost 17 us here against 2.6 us for a whole 64-element Adam update, and ViT-tiny has ~40
# weights that small (biases, norms). The arithmetic is the same loop body (_adam_at, _sgd_at).
PARALLEL_FROM = 4096


@njit(cache=True, inline="always")
def _sgd_at(i, p, g, vel, lr, momentum, nesterov, weight_decay, use_momentum):
    d = g[i] + weight_decay * p[i]                     # g' = g + wd p
    if use_momentum:
        v = momentum * vel[i] + d                      # v = momentum v + g'
        vel[i] = v
        step = d + momentum * v if nesterov else v
    else:
        step = d
    p[i] -= lr * step


@njit(parallel=True, cache=True)
def _sgd(p, g, vel, lr, momentum, nesterov, weight_decay, use_momentum):
    for i in prange(p.size):
        _sgd_at(i, p, g, vel, lr, momentum, nesterov, weight_decay, use_momentum)


@njit(cache=True)
def _sgd_serial(p, g, vel, lr, momentum, nesterov, weight_decay, use_momentum):
    for i in range(p.size):
        _sgd_at(i, p, g, vel, lr, momentum, nesterov, weight_decay, use_momentum)


@njit(cache=True, inline="always")
def _adam_at(i, p, g, m, v, lr, beta_1, one_minus_b1, beta_2, one_minus_b2, bc1, bc2, epsilon,
             weight_decay, shrink):
    pi = p[i] * shrink                                 # AdamW: p (1 - lr wd); else shrink = 1
    gi = g[i] + weight_decay * pi                      # Adam: g' = g + wd p; else wd = 0
    mi = beta_1 * m[i] + one_minus_b1 * gi
    vi = beta_2 * v[i] + one_minus_b2 * (gi * gi)
    m[i] = mi
    v[i] = vi
    m_hat = mi / bc1
    v_hat = vi / bc2
    p[i] = pi - lr * m_hat / (np.sqrt(v_hat) + epsilon)


@njit(parallel=True, cache=True)
def _adam(p, g, m, v, lr, beta_1, one_minus_b1, beta_2, one_minus_b2, bc1, bc2, epsilon,
          weight_decay, shrink):
    for i in prange(p.size):
        _adam_at(i, p, g, m, v, lr, beta_1, one_minus_b1, beta_2, one_minus_b2, bc1, bc2, epsilon,
                 weight_decay, shrink)


@njit(cache=True)
def _adam_serial(p, g, m, v, lr, beta_1, one_minus_b1, beta_2, one_minus_b2, bc1, bc2, epsilon,
                 weight_decay, shrink):
    for i in range(p.size):
        _adam_at(i, p, g, m, v, lr, beta_1, one_minus_b1, beta_2, one_minus_b2, bc1, bc2, epsilon,
                 weight_decay, shrink)


def sgd_update(p, g, velocity, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    # p, g, velocity (...) same shape; p and velocity change in place
    dt = p.dtype.type
    use_momentum = momentum != 0.0
    vel = velocity.reshape(-1) if use_momentum else np.zeros(1, dtype=p.dtype)
    kernel = _sgd if p.size >= PARALLEL_FROM else _sgd_serial
    kernel(p.reshape(-1), g.reshape(-1), vel, dt(lr), dt(momentum), bool(nesterov),
         dt(weight_decay), use_momentum)


def adam_update(p, g, m, v, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                weight_decay=0.0, decoupled=False):
    # p, g, m, v (...) same shape; p, m and v change in place
    dt = p.dtype.type
    shrink = 1 - lr * weight_decay if decoupled and weight_decay else 1.0
    l2 = 0.0 if decoupled else weight_decay
    kernel = _adam if p.size >= PARALLEL_FROM else _adam_serial
    kernel(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), dt(lr),
           dt(beta_1), dt(1 - beta_1), dt(beta_2), dt(1 - beta_2),
           dt(1 - beta_1 ** t), dt(1 - beta_2 ** t), dt(epsilon), dt(l2), dt(shrink))


@njit(parallel=True, cache=True)
def _rmsprop(p, g, vel, mom, lr, rho, one_minus_rho, momentum, epsilon, weight_decay, use_momentum):
    for i in prange(p.size):
        d = g[i] + weight_decay * p[i]                 # g' = g + wd p
        v = rho * vel[i] + one_minus_rho * (d * d)     # v = rho v + (1 - rho) g'^2
        vel[i] = v
        inc = lr * d / np.sqrt(v + epsilon)            # Keras: eps inside the root
        if use_momentum:
            m = momentum * mom[i] + inc
            mom[i] = m
            p[i] -= m
        else:
            p[i] -= inc


@njit(parallel=True, cache=True)
def _adagrad(p, g, acc, lr, epsilon, weight_decay):
    for i in prange(p.size):
        d = g[i] + weight_decay * p[i]
        a = acc[i] + d * d
        acc[i] = a
        p[i] -= lr * d / np.sqrt(a + epsilon)


def rmsprop_update(p, g, velocity, momentum_buf, lr, rho=0.9, momentum=0.0, epsilon=1e-7,
                   weight_decay=0.0):
    # p, g, velocity, momentum_buf (...) same shape; all but g change in place
    dt = p.dtype.type
    use_momentum = momentum != 0.0
    mom = momentum_buf.reshape(-1) if use_momentum else np.zeros(1, dtype=p.dtype)
    _rmsprop(p.reshape(-1), g.reshape(-1), velocity.reshape(-1), mom, dt(lr), dt(rho),
             dt(1 - rho), dt(momentum), dt(epsilon), dt(weight_decay), use_momentum)


def adagrad_update(p, g, accumulator, lr, epsilon=1e-7, weight_decay=0.0):
    dt = p.dtype.type
    _adagrad(p.reshape(-1), g.reshape(-1), accumulator.reshape(-1), dt(lr), dt(epsilon),
             dt(weight_decay))
