"""Optimizer updates on the GPU (numba.cuda). One implementation each, so no VERSIONS table.

Each update is ONE kernel, one thread per element of the parameter: it reads p, g and the state
once, and writes p and the state once, in place on the device arrays passed in (the weights
never leave the GPU; NumPy arrays passed in are uploaded and updated on the way back). Hyperparameters are cast to the parameter's dtype first, so float32
parameters update in float32 arithmetic, in the reference's order (kernels/reference/optim.py):

    SGD    g' = g + wd p;  v = momentum v + g';  step = g' + momentum v (Nesterov) or v;  p -= lr step
    Adam   AdamW shrinks p by (1 - lr wd) first, Adam adds wd p to g;  m, v moving averages;
           p -= lr m_hat / (sqrt(v_hat) + eps) with the bias corrections 1 - beta^t
"""
import math

from numba import cuda

from tinydl.kernels.cuda._launch import TPB, blocks, empty, flat, on_device, writeback


@cuda.jit
def _sgd(p, g, vel, lr, momentum, nesterov, weight_decay, use_momentum):
    i = cuda.grid(1)
    if i < p.size:
        d = g[i] + weight_decay * p[i]                 # g' = g + wd p
        if use_momentum:
            v = momentum * vel[i] + d                  # v = momentum v + g'
            vel[i] = v
            step = d + momentum * v if nesterov else v
        else:
            step = d
        p[i] -= lr * step


@cuda.jit
def _adam(p, g, m, v, lr, beta_1, one_minus_b1, beta_2, one_minus_b2, bc1, bc2, epsilon,
          weight_decay, shrink):
    i = cuda.grid(1)
    if i < p.size:
        pi = p[i] * shrink                             # AdamW: p (1 - lr wd); else shrink = 1
        gi = g[i] + weight_decay * pi                  # Adam: g' = g + wd p; else wd = 0
        mi = beta_1 * m[i] + one_minus_b1 * gi
        vi = beta_2 * v[i] + one_minus_b2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        m_hat = mi / bc1
        v_hat = vi / bc2
        p[i] = pi - lr * m_hat / (math.sqrt(v_hat) + epsilon)


def sgd_update(p, g, velocity, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    # p, g, velocity (...) same shape; p and velocity change in place
    dt = p.dtype.type
    use_momentum = momentum != 0.0
    if not use_momentum:
        velocity = None
    if p.size == 0:
        return
    with writeback(p, velocity) as (p, velocity):
        vel = flat(velocity) if use_momentum else empty((1,), p.dtype)   # an unused stand-in
        _sgd[blocks(p.size), TPB](flat(p), flat(on_device(g)), vel, dt(lr), dt(momentum),
                                  bool(nesterov), dt(weight_decay), use_momentum)


def adam_update(p, g, m, v, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                weight_decay=0.0, decoupled=False):
    # p, g, m, v (...) same shape; p, m and v change in place
    dt = p.dtype.type
    shrink = 1 - lr * weight_decay if decoupled and weight_decay else 1.0
    l2 = 0.0 if decoupled else weight_decay
    if p.size == 0:
        return
    with writeback(p, m, v) as (p, m, v):
        _adam[blocks(p.size), TPB](flat(p), flat(on_device(g)), flat(m), flat(v), dt(lr),
                                   dt(beta_1), dt(1 - beta_1), dt(beta_2), dt(1 - beta_2),
                                   dt(1 - beta_1 ** t), dt(1 - beta_2 ** t), dt(epsilon),
                                   dt(l2), dt(shrink))


# ---- RMSprop and Adagrad (Keras's formulas: epsilon inside the square root) --------------------
@cuda.jit
def _rmsprop(p, g, vel, mom, lr, rho, one_minus_rho, momentum, epsilon, weight_decay, use_momentum):
    i = cuda.grid(1)
    if i < p.size:
        d = g[i] + weight_decay * p[i]                 # g' = g + wd p
        v = rho * vel[i] + one_minus_rho * (d * d)     # v = rho v + (1 - rho) g'^2
        vel[i] = v
        inc = lr * d / math.sqrt(v + epsilon)
        if use_momentum:
            m = momentum * mom[i] + inc
            mom[i] = m
            p[i] -= m
        else:
            p[i] -= inc


@cuda.jit
def _adagrad(p, g, acc, lr, epsilon, weight_decay):
    i = cuda.grid(1)
    if i < p.size:
        d = g[i] + weight_decay * p[i]
        a = acc[i] + d * d
        acc[i] = a
        p[i] -= lr * d / math.sqrt(a + epsilon)


def rmsprop_update(p, g, velocity, momentum_buf, lr, rho=0.9, momentum=0.0, epsilon=1e-7,
                   weight_decay=0.0):
    dt = p.dtype.type
    use_momentum = momentum != 0.0
    if not use_momentum:
        momentum_buf = None
    if p.size == 0:
        return
    with writeback(p, velocity, momentum_buf) as (p, velocity, momentum_buf):
        mom = flat(momentum_buf) if use_momentum else empty((1,), p.dtype)   # an unused stand-in
        _rmsprop[blocks(p.size), TPB](flat(p), flat(on_device(g)), flat(velocity), mom, dt(lr),
                                      dt(rho), dt(1 - rho), dt(momentum), dt(epsilon),
                                      dt(weight_decay), use_momentum)


def adagrad_update(p, g, accumulator, lr, epsilon=1e-7, weight_decay=0.0):
    dt = p.dtype.type
    if p.size == 0:
        return
    with writeback(p, accumulator) as (p, accumulator):
        _adagrad[blocks(p.size), TPB](flat(p), flat(on_device(g)), flat(accumulator), dt(lr),
                                      dt(epsilon), dt(weight_decay))
