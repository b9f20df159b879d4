"""Activations: relu, leaky_relu, sigmoid, tanh, gelu (exact), softmax. Each forward returns
(out, cache) with out of x's shape and dtype; each backward (dout, cache) returns dx."""
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward

__all__ = [
    "relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "gelu_forward", "gelu_backward", "softmax_forward", "softmax_backward",
]


def _run(op, x, *args):
    x = _checks.as_float(x, "x")
    return run_forward("activations", op, x, *args)


def _back(op, dout, cache):
    dout = check_dout(dout, cache, op)
    return run_backward("activations", op, cache, dout)


def relu_forward(x):
    """max(x, 0)."""
    return _run("relu", x)


def relu_backward(dout, cache):
    return _back("relu", dout, cache)


def leaky_relu_forward(x, negative_slope=0.3):
    """x where x > 0, else negative_slope * x (Keras's default slope 0.3)."""
    slope = _checks.finite_float(negative_slope, "negative_slope")
    return _run("leaky_relu", x, slope)


def leaky_relu_backward(dout, cache):
    return _back("leaky_relu", dout, cache)


def sigmoid_forward(x):
    """1 / (1 + exp(-x)), stable for large |x|."""
    return _run("sigmoid", x)


def sigmoid_backward(dout, cache):
    return _back("sigmoid", dout, cache)


def tanh_forward(x):
    return _run("tanh", x)


def tanh_backward(dout, cache):
    return _back("tanh", dout, cache)


def gelu_forward(x):
    """Exact GELU x * Phi(x) with the erf (PyTorch's default, Keras approximate=False)."""
    return _run("gelu", x)


def gelu_backward(dout, cache):
    return _back("gelu", dout, cache)


def softmax_forward(x, axis=-1):
    """exp(x - max) / sum exp(x - max) along ``axis``."""
    x = _checks.as_float(x, "x")
    nd = len(x.shape)
    if not _checks.is_int(axis) or not -nd <= axis < nd:
        raise ValueError(f"axis must be an int in [{-nd}, {nd}) for x of shape {tuple(x.shape)}; "
                         f"received {axis!r}")
    if int(x.shape[axis]) < 1:
        raise ValueError(f"softmax's axis {axis} must not be empty; received x of shape {tuple(x.shape)}")
    return _run("softmax", x, int(axis) % nd)


def softmax_backward(dout, cache):
    return _back("softmax", dout, cache)


# ---- silu (swish), elu, selu, softplus: Keras 3's other activation names ----------------------
__all__ += ["silu_forward", "silu_backward", "elu_forward", "elu_backward",
            "selu_forward", "selu_backward", "softplus_forward", "softplus_backward"]


def silu_forward(x):
    """x * sigmoid(x) (Keras's "silu", also called "swish")."""
    return _run("silu", x)


def silu_backward(dout, cache):
    return _back("silu", dout, cache)


def elu_forward(x, alpha=1.0):
    """x where x > 0, else alpha * (exp(x) - 1) (Keras's default alpha 1.0)."""
    return _run("elu", x, _checks.finite_float(alpha, "alpha"))


def elu_backward(dout, cache):
    return _back("elu", dout, cache)


def selu_forward(x):
    """scale * elu(x, alpha) with alpha = 1.6732632..., scale = 1.0507009... (self-normalizing)."""
    return _run("selu", x)


def selu_backward(dout, cache):
    return _back("selu", dout, cache)


def softplus_forward(x):
    """log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)) so it never overflows."""
    return _run("softplus", x)


def softplus_backward(dout, cache):
    return _back("softplus", dout, cache)
