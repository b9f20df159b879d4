"""Activations on the CPU (Numba). One implementation each, so no VERSIONS table.

The wrappers pass flat 1-D views, so each kernel compiles once per dtype for any rank, and the
loops run in parallel (prange) over the flat index. Each element is independent, so the lesson
here is only the numerics:
    sigmoid   exp is taken of -|x| only, so nothing overflows at |x| = 1e4
    gelu      the exact erf form, not the tanh approximation: math.erf in float64; in float32 a
              rational erf that vectorizes (kernels/cpu/_gelu_fast.py: 8 ms -> see docs/kernels.md)
    softmax   rows of the last axis in parallel: subtract the row max, sum exp in float64;
              another axis is moved last first (a copy), then moved back
The transcendental functions run in float64 (math.*) and round once into the output dtype.
"""
import math

import numpy as np
from numba import njit, prange

from tinydl.kernels.cpu import _gelu_fast

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# ---- kernels on flat views ------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _relu_fwd(x, out):
    zero = x.dtype.type(0)
    for i in prange(x.size):
        out[i] = x[i] if (x[i] > 0 or x[i] != x[i]) else zero   # relu(NaN) is NaN


@njit(parallel=True, cache=True)
def _relu_bwd(x, dout, dx):
    zero = dout.dtype.type(0)
    for i in prange(x.size):
        dx[i] = dout[i] if x[i] > 0 else zero


@njit(parallel=True, cache=True)
def _leaky_fwd(x, slope, out):
    for i in prange(x.size):
        out[i] = x[i] if x[i] > 0 else slope * x[i]


@njit(parallel=True, cache=True)
def _leaky_bwd(x, slope, dout, dx):
    for i in prange(x.size):
        dx[i] = dout[i] if x[i] > 0 else slope * dout[i]


@njit(parallel=True, cache=True)
def _sigmoid_fwd(x, out):
    for i in prange(x.size):
        e = math.exp(-abs(np.float64(x[i])))
        out[i] = 1.0 / (1.0 + e) if x[i] >= 0 else e / (1.0 + e)


@njit(parallel=True, cache=True)
def _sigmoid_bwd(y, dout, dx):
    for i in prange(y.size):
        dx[i] = dout[i] * y[i] * (1 - y[i])


@njit(parallel=True, cache=True)
def _tanh_fwd(x, out):
    for i in prange(x.size):
        out[i] = math.tanh(np.float64(x[i]))


@njit(parallel=True, cache=True)
def _tanh_bwd(y, dout, dx):
    for i in prange(y.size):
        dx[i] = dout[i] * (1 - y[i] * y[i])


@njit(parallel=True, cache=True)
def _gelu_fwd(x, out):
    for i in prange(x.size):
        v = np.float64(x[i])
        out[i] = 0.5 * v * (1.0 + math.erf(v * _SQRT_HALF))


@njit(parallel=True, cache=True)
def _gelu_bwd(x, dout, dx):
    for i in prange(x.size):
        v = np.float64(x[i])
        cdf = 0.5 * (1.0 + math.erf(v * _SQRT_HALF))
        pdf = math.exp(-0.5 * v * v) * _INV_SQRT_2PI
        dx[i] = dout[i] * (cdf + v * pdf)


@njit(parallel=True, cache=True)
def _softmax_rows(x, out):
    # x, out (R, C): softmax of each row
    rows, cols = x.shape
    for r in prange(rows):
        mx = x[r, 0]
        for c in range(1, cols):
            mx = max(mx, x[r, c])
        total = 0.0
        for c in range(cols):
            e = math.exp(np.float64(x[r, c] - mx))
            out[r, c] = e
            total += e
        inv = 1.0 / total
        for c in range(cols):
            out[r, c] = out[r, c] * inv


@njit(parallel=True, cache=True)
def _softmax_rows_bwd(y, dout, dx):
    # dx = y * (dout - sum(dout * y)) along each row
    rows, cols = y.shape
    for r in prange(rows):
        s = 0.0
        for c in range(cols):
            s += np.float64(dout[r, c]) * y[r, c]
        for c in range(cols):
            dx[r, c] = y[r, c] * (dout[r, c] - s)


def _flat(a):
    return a.reshape(-1)


# ---- the ops: forward directly above backward ------------------------------------------------
def relu_forward(x):
    out = np.empty_like(x)
    _relu_fwd(_flat(x), _flat(out))
    return out, x


def relu_in_place(a):
    """a = relu(a), for a fresh contiguous array a kernel made (a fused op's output); returns a."""
    _relu_fwd(_flat(a), _flat(a))
    return a


def relu_backward(dout, cache):
    x = cache
    dx = np.empty_like(dout)
    _relu_bwd(_flat(x), _flat(dout), _flat(dx))
    return dx


def leaky_relu_forward(x, negative_slope=0.3):
    out = np.empty_like(x)
    _leaky_fwd(_flat(x), x.dtype.type(negative_slope), _flat(out))
    return out, (x, negative_slope)


def leaky_relu_backward(dout, cache):
    x, negative_slope = cache
    dx = np.empty_like(dout)
    _leaky_bwd(_flat(x), dout.dtype.type(negative_slope), _flat(dout), _flat(dx))
    return dx


def sigmoid_forward(x):
    out = np.empty_like(x)
    _sigmoid_fwd(_flat(x), _flat(out))
    return out, out


def sigmoid_backward(dout, cache):
    y = cache
    dx = np.empty_like(dout)
    _sigmoid_bwd(_flat(y), _flat(dout), _flat(dx))
    return dx


def tanh_forward(x):
    out = np.empty_like(x)
    _tanh_fwd(_flat(x), _flat(out))
    return out, out


def tanh_backward(dout, cache):
    y = cache
    dx = np.empty_like(dout)
    _tanh_bwd(_flat(y), _flat(dout), _flat(dx))
    return dx


def gelu_forward(x):
    out = np.empty_like(x)
    (_gelu_fast.gelu_fwd if x.dtype == np.float32 else _gelu_fwd)(_flat(x), _flat(out))
    return out, x


def gelu_backward(dout, cache):
    x = cache
    dx = np.empty_like(dout)
    (_gelu_fast.gelu_bwd if x.dtype == np.float32 else _gelu_bwd)(_flat(x), _flat(dout), _flat(dx))
    return dx


def _rows(a, axis):
    # a with `axis` moved last, C-contiguous, viewed as (R, C)
    moved = np.ascontiguousarray(np.moveaxis(a, axis, -1))
    return moved, moved.reshape(-1, moved.shape[-1])


def _unrows(moved, axis):
    return np.ascontiguousarray(np.moveaxis(moved, -1, axis))


def softmax_forward(x, axis=-1):
    # x (...) -> softmax along `axis` (a non-negative int here)
    moved, rows = _rows(x, axis)
    out_moved = np.empty_like(moved)
    _softmax_rows(rows, out_moved.reshape(rows.shape))
    out = _unrows(out_moved, axis)
    return out, (out, axis)


def softmax_backward(dout, cache):
    y, axis = cache
    y_moved, y_rows = _rows(y, axis)
    _, d_rows = _rows(dout, axis)
    dx_moved = np.empty_like(y_moved)
    _softmax_rows_bwd(y_rows, d_rows, dx_moved.reshape(y_rows.shape))
    return _unrows(dx_moved, axis)


# ---- silu (swish), elu, selu, softplus --------------------------------------------------------
# Every kernel tests `x > 0` / `x >= 0` so that NaN falls into a branch whose arithmetic keeps
# it NaN (max(x, 0) would turn NaN into 0 in one argument order and not the other).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@njit(cache=True)
def _sig(v):
    e = math.exp(-abs(v))
    return 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)


@njit(parallel=True, cache=True)
def _silu_fwd(x, out):
    for i in prange(x.size):
        v = np.float64(x[i])
        out[i] = v * _sig(v)


@njit(parallel=True, cache=True)
def _silu_bwd(x, dout, dx):
    for i in prange(x.size):
        v = np.float64(x[i])
        s = _sig(v)
        dx[i] = dout[i] * (s * (1.0 + v * (1.0 - s)))


@njit(parallel=True, cache=True)
def _elu_fwd(x, alpha, scale, out):
    # scale * (x if x > 0 else alpha (exp(x) - 1)); elu is scale = 1
    for i in prange(x.size):
        v = np.float64(x[i])
        out[i] = scale * v if v > 0 else scale * alpha * math.expm1(v)


@njit(parallel=True, cache=True)
def _elu_bwd(x, alpha, scale, dout, dx):
    for i in prange(x.size):
        v = np.float64(x[i])
        dx[i] = dout[i] * scale if v > 0 else dout[i] * (scale * alpha * math.exp(v))


@njit(parallel=True, cache=True)
def _softplus_fwd(x, out):
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))
    for i in prange(x.size):
        v = np.float64(x[i])
        out[i] = v + math.log1p(math.exp(-v)) if v > 0 else math.log1p(math.exp(v))


@njit(parallel=True, cache=True)
def _softplus_bwd(x, dout, dx):
    for i in prange(x.size):
        dx[i] = dout[i] * _sig(np.float64(x[i]))


def silu_forward(x):
    out = np.empty_like(x)
    _silu_fwd(_flat(x), _flat(out))
    return out, x


def silu_backward(dout, cache):
    x = cache
    dx = np.empty_like(dout)
    _silu_bwd(_flat(x), _flat(dout), _flat(dx))
    return dx


def elu_forward(x, alpha=1.0):
    out = np.empty_like(x)
    _elu_fwd(_flat(x), float(alpha), 1.0, _flat(out))
    return out, (x, alpha)


def elu_backward(dout, cache):
    x, alpha = cache
    dx = np.empty_like(dout)
    _elu_bwd(_flat(x), float(alpha), 1.0, _flat(dout), _flat(dx))
    return dx


def selu_forward(x):
    out = np.empty_like(x)
    _elu_fwd(_flat(x), SELU_ALPHA, SELU_SCALE, _flat(out))
    return out, x


def selu_backward(dout, cache):
    x = cache
    dx = np.empty_like(dout)
    _elu_bwd(_flat(x), SELU_ALPHA, SELU_SCALE, _flat(dout), _flat(dx))
    return dx


def softplus_forward(x):
    out = np.empty_like(x)
    _softplus_fwd(_flat(x), _flat(out))
    return out, x


def softplus_backward(dout, cache):
    x = cache
    dx = np.empty_like(dout)
    _softplus_bwd(_flat(x), _flat(dout), _flat(dx))
    return dx
