"""Optimizer updates, plain NumPy: the ground truth of kernels/cpu/optim.py.

Each update changes one parameter array p IN PLACE from its gradient g (same shape and dtype),
together with its state arrays (velocity; m and v). Hyperparameters are python floats; t is the
1-based step count. The formulas are PyTorch's (torch.optim.SGD, Adam, AdamW).
"""
import numpy as np


def sgd_update(p, g, velocity, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    # step 1: L2 weight decay joins the gradient          g' = g + wd p
    d = g + weight_decay * p if weight_decay else g
    if momentum:
        # step 2: velocity                                  v = momentum v + g'
        velocity *= momentum
        velocity += d
        # step 3: the step is v, or g' + momentum v (Nesterov)
        step = d + momentum * velocity if nesterov else velocity
    else:
        step = d
    # step 4: descend                                       p -= lr step
    p -= lr * step


def adam_update(p, g, m, v, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                weight_decay=0.0, decoupled=False):
    # step 1: weight decay: decoupled (AdamW) shrinks p, else (Adam) L2 joins the gradient
    if decoupled:
        if weight_decay:
            p *= 1 - lr * weight_decay
    elif weight_decay:
        g = g + weight_decay * p
    # step 2: moving averages of the gradient and its square
    m *= beta_1
    m += (1 - beta_1) * g
    v *= beta_2
    v += (1 - beta_2) * (g * g)
    # step 3: bias correction for the zero start, then the step
    m_hat = m / (1 - beta_1 ** t)
    v_hat = v / (1 - beta_2 ** t)
    p -= lr * m_hat / (np.sqrt(v_hat) + epsilon)


def rmsprop_update(p, g, velocity, momentum_buf, lr, rho=0.9, momentum=0.0, epsilon=1e-7,
                   weight_decay=0.0):
    # Keras's RMSprop (epsilon INSIDE the square root; PyTorch adds it outside)
    # step 1: L2 weight decay joins the gradient          g' = g + wd p
    d = g + weight_decay * p if weight_decay else g
    # step 2: moving average of the squared gradient      v = rho v + (1 - rho) g'^2
    velocity *= rho
    velocity += (1 - rho) * (d * d)
    # step 3: the increment                               lr g' / sqrt(v + eps)
    increment = lr * d / np.sqrt(velocity + epsilon)
    # step 4: descend, through a momentum buffer when momentum > 0:  m = momentum m + increment
    if momentum:
        momentum_buf *= momentum
        momentum_buf += increment
        p -= momentum_buf
    else:
        p -= increment


def adagrad_update(p, g, accumulator, lr, epsilon=1e-7, weight_decay=0.0):
    # Keras's Adagrad: the accumulator starts at initial_accumulator_value (set by the caller)
    d = g + weight_decay * p if weight_decay else g     # step 1: g' = g + wd p
    accumulator += d * d                                 # step 2: a += g'^2
    p -= lr * d / np.sqrt(accumulator + epsilon)         # step 3: p -= lr g' / sqrt(a + eps)
