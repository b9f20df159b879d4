"""Layer normalization ops (family "layernorm"), over the last axis.

    layernorm_forward(x, gamma, beta, eps=1e-3) -> out, cache
    layernorm_backward(dout, cache) -> dx, dgamma, dbeta

x (..., E), gamma (E,), beta (E,); biased variance, as Keras and PyTorch.
"""
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward


def layernorm_forward(x, gamma, beta, eps=1e-3):
    x = _checks.as_float(x, "x")
    gamma, beta = _checks.as_float(gamma, "gamma"), _checks.as_float(beta, "beta")
    _checks.same_dtype(x, gamma=gamma, beta=beta)
    if len(x.shape) < 1:
        raise ValueError(f"x must have at least one axis (..., E); received shape {tuple(x.shape)}")
    _checks.nonempty(x, "x")
    E = int(x.shape[-1])
    _checks.shape_is(gamma, "gamma", (E,))
    _checks.shape_is(beta, "beta", (E,))
    eps = _checks.finite_float(eps, "eps", 0.0, None, low_open=True)
    shape = tuple(x.shape)
    R = 1
    for d in shape[:-1]:
        R *= int(d)
    out, cache = run_forward("layernorm", "layernorm", x.reshape(R, E), gamma, beta, eps, shape=shape)
    return out.reshape(shape), cache


def layernorm_backward(dout, cache):
    dout = check_dout(dout, cache, "layernorm")
    shape = cache.shape
    dx, dgamma, dbeta = run_backward("layernorm", "layernorm", cache, dout.reshape(-1, shape[-1]))
    return dx.reshape(shape), dgamma, dbeta
