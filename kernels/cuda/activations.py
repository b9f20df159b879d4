"""Activations on the GPU (numba.cuda): the lesson plan.

The pointwise activations (relu, leaky_relu, sigmoid, tanh, gelu) are one thread per element of
the flat view, one version each: nothing to climb, they move every byte once and that is all
the GPU can do for them. The ladder is softmax, a reduction along one axis. The input is seen as
(outer, n, inner) around that axis, so a "row" is the n elements x[o, :, i], inner apart.

v1  one thread per row: the thread walks its row three times (max, sum of exp, divide). Fine
    for many short rows; a long row leaves the GPU with a few busy threads, and when
    inner = 1 neighbouring threads read addresses n apart, so loads do not coalesce.
    Not measured (no GPU in the session that wrote it).
v2  one block of RTPB = 32 threads (a warp) per row: the threads stride over the row together (neighbouring
    threads read neighbouring elements) and combine their partial max and sum with a
    shared-memory tree (kernels/cuda/_reduce.py). Not measured yet.

DEFAULT = 2. The backward, dx = y * (dout - sum_row(dout * y)), follows the same two shapes.
"""
import math

from numba import cuda

from tinydl.kernels._versions import active
from tinydl.kernels.cuda._launch import TPB, blocks, empty, flat, is_device_array, on_device
from tinydl.kernels.cuda._reduce import RTPB, block_max, block_sum, float64

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# ---- the pointwise activations: one thread per element ----------------------------------------
@cuda.jit
def _relu_fwd(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = x[i] if (x[i] > 0 or x[i] != x[i]) else 0   # relu(NaN) is NaN


@cuda.jit
def _relu_bwd(x, dout, dx):
    i = cuda.grid(1)
    if i < x.size:
        dx[i] = dout[i] if x[i] > 0 else 0


@cuda.jit
def _leaky_fwd(x, slope, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = x[i] if x[i] > 0 else slope * x[i]


@cuda.jit
def _leaky_bwd(x, slope, dout, dx):
    i = cuda.grid(1)
    if i < x.size:
        dx[i] = dout[i] if x[i] > 0 else slope * dout[i]


@cuda.jit
def _sigmoid_fwd(x, out):
    # stable: exp only of -|x|
    i = cuda.grid(1)
    if i < x.size:
        e = math.exp(-abs(x[i]))
        out[i] = 1 / (1 + e) if x[i] >= 0 else e / (1 + e)


@cuda.jit
def _sigmoid_bwd(y, dout, dx):
    i = cuda.grid(1)
    if i < y.size:
        dx[i] = dout[i] * y[i] * (1 - y[i])


@cuda.jit
def _tanh_fwd(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = math.tanh(x[i])


@cuda.jit
def _tanh_bwd(y, dout, dx):
    i = cuda.grid(1)
    if i < y.size:
        dx[i] = dout[i] * (1 - y[i] * y[i])


@cuda.jit
def _gelu_fwd(x, out):
    # x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
    i = cuda.grid(1)
    if i < x.size:
        out[i] = 0.5 * x[i] * (1 + math.erf(x[i] / _SQRT2))


@cuda.jit
def _gelu_bwd(x, dout, dx):
    # Phi(x) + x phi(x)
    i = cuda.grid(1)
    if i < x.size:
        v = x[i]
        cdf = 0.5 * (1 + math.erf(v / _SQRT2))
        pdf = math.exp(-0.5 * v * v) * _INV_SQRT_2PI
        dx[i] = dout[i] * (cdf + v * pdf)


def _pointwise(kernel, *args):
    # args: device arrays (all of the output's size) and scalars; the last one is the output
    out = args[-1]
    if out.size:
        kernel[blocks(out.size), TPB](*(flat(a) if is_device_array(a) else a for a in args))
    return out


def relu_forward(x):
    x = on_device(x)
    return _pointwise(_relu_fwd, x, empty(x.shape, x.dtype)), x


def relu_backward(dout, cache):
    x, dout = cache, on_device(dout)
    return _pointwise(_relu_bwd, x, dout, empty(x.shape, dout.dtype))


def leaky_relu_forward(x, negative_slope=0.3):
    x = on_device(x)
    out = _pointwise(_leaky_fwd, x, x.dtype.type(negative_slope), empty(x.shape, x.dtype))
    return out, (x, negative_slope)


def leaky_relu_backward(dout, cache):
    x, negative_slope = cache
    dout = on_device(dout)
    return _pointwise(_leaky_bwd, x, dout.dtype.type(negative_slope), dout, empty(x.shape, dout.dtype))


def sigmoid_forward(x):
    x = on_device(x)
    out = _pointwise(_sigmoid_fwd, x, empty(x.shape, x.dtype))
    return out, out


def sigmoid_backward(dout, cache):
    y, dout = cache, on_device(dout)
    return _pointwise(_sigmoid_bwd, y, dout, empty(y.shape, dout.dtype))


def tanh_forward(x):
    x = on_device(x)
    out = _pointwise(_tanh_fwd, x, empty(x.shape, x.dtype))
    return out, out


def tanh_backward(dout, cache):
    y, dout = cache, on_device(dout)
    return _pointwise(_tanh_bwd, y, dout, empty(y.shape, dout.dtype))


def gelu_forward(x):
    x = on_device(x)
    return _pointwise(_gelu_fwd, x, empty(x.shape, x.dtype)), x


def gelu_backward(dout, cache):
    x, dout = cache, on_device(dout)
    return _pointwise(_gelu_bwd, x, dout, empty(x.shape, dout.dtype))


# ---- softmax along one axis: x seen as (outer, n, inner), row r = (o, i) -----------------------
def _rows(shape, axis):
    # (outer, n, inner) around ``axis``
    axis = axis % len(shape)
    outer = 1
    for d in shape[:axis]:
        outer *= int(d)
    inner = 1
    for d in shape[axis + 1:]:
        inner *= int(d)
    return outer, int(shape[axis]), inner


# ---- v1: one thread per row --------------------------------------------------------------------
@cuda.jit
def _softmax_v1(x, n, inner, out):
    r = cuda.grid(1)
    if r < x.size // n:
        base = (r // inner) * n * inner + r % inner
        m = x[base]
        for j in range(1, n):                       # pass 1: the row max
            m = max(m, x[base + j * inner])
        s = 0.0
        for j in range(n):                          # pass 2: exp and their sum
            e = math.exp(x[base + j * inner] - m)
            out[base + j * inner] = e
            s += e
        for j in range(n):                          # pass 3: normalize
            out[base + j * inner] /= s


@cuda.jit
def _softmax_bwd_v1(y, dout, n, inner, dx):
    r = cuda.grid(1)
    if r < y.size // n:
        base = (r // inner) * n * inner + r % inner
        dot = 0.0
        for j in range(n):
            dot += float64(dout[base + j * inner]) * y[base + j * inner]
        for j in range(n):
            dx[base + j * inner] = y[base + j * inner] * (dout[base + j * inner] - dot)


def softmax_forward_v1(x, axis=-1):
    x = on_device(x)
    outer, n, inner = _rows(x.shape, axis)
    out = empty(x.shape, x.dtype)
    if x.size:
        _softmax_v1[blocks(outer * inner), TPB](flat(x), n, inner, flat(out))
    return out, (out, axis)


def softmax_backward_v1(dout, cache):
    y, axis = cache
    dout = on_device(dout)
    outer, n, inner = _rows(y.shape, axis)
    dx = empty(y.shape, y.dtype)
    if y.size:
        _softmax_bwd_v1[blocks(outer * inner), TPB](flat(y), flat(dout), n, inner, flat(dx))
    return dx


# ---- v2: one block per row, shared-memory reductions --------------------------------------------
@cuda.jit
def _softmax_v2(x, n, inner, out):
    buf = cuda.shared.array(RTPB, dtype=float64)
    r = cuda.blockIdx.x
    t = cuda.threadIdx.x
    base = (r // inner) * n * inner + r % inner
    m = -math.inf
    for j in range(t, n, RTPB):                     # each thread: max of its strided share
        m = max(m, float64(x[base + j * inner]))
    m = block_max(buf, m)                           # the row max, known to every thread
    s = 0.0
    for j in range(t, n, RTPB):
        e = math.exp(x[base + j * inner] - m)
        out[base + j * inner] = e
        s += e
    s = block_sum(buf, s)
    for j in range(t, n, RTPB):                     # each thread normalizes what it wrote
        out[base + j * inner] /= s


@cuda.jit
def _softmax_bwd_v2(y, dout, n, inner, dx):
    buf = cuda.shared.array(RTPB, dtype=float64)
    r = cuda.blockIdx.x
    t = cuda.threadIdx.x
    base = (r // inner) * n * inner + r % inner
    dot = 0.0
    for j in range(t, n, RTPB):
        dot += float64(dout[base + j * inner]) * y[base + j * inner]
    dot = block_sum(buf, dot)
    for j in range(t, n, RTPB):
        dx[base + j * inner] = y[base + j * inner] * (dout[base + j * inner] - dot)


def softmax_forward_v2(x, axis=-1):
    x = on_device(x)
    outer, n, inner = _rows(x.shape, axis)
    out = empty(x.shape, x.dtype)
    if x.size:
        _softmax_v2[outer * inner, RTPB](flat(x), n, inner, flat(out))
    return out, (out, axis)


def softmax_backward_v2(dout, cache):
    y, axis = cache
    dout = on_device(dout)
    outer, n, inner = _rows(y.shape, axis)
    dx = empty(y.shape, y.dtype)
    if y.size:
        _softmax_bwd_v2[outer * inner, RTPB](flat(y), flat(dout), n, inner, flat(dx))
    return dx


VERSIONS = {
    1: {"softmax_forward": softmax_forward_v1, "softmax_backward": softmax_backward_v1},
    2: {"softmax_forward": softmax_forward_v2, "softmax_backward": softmax_backward_v2},
}
DEFAULT = 2   # a block per row: the threads of a block share the row's memory traffic


def softmax_forward(x, axis=-1):
    return VERSIONS[active("cuda.activations", DEFAULT)]["softmax_forward"](x, axis)


def softmax_backward(dout, cache):
    return VERSIONS[active("cuda.activations", DEFAULT)]["softmax_backward"](dout, cache)


# ---- silu (swish), elu, selu, softplus: one thread per element ---------------------------------
# `x > 0` / `x >= 0` tests send NaN into a branch that keeps it NaN.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@cuda.jit(device=True)
def _sig(v):
    e = math.exp(-abs(v))
    return 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)


@cuda.jit
def _silu_fwd(x, out):
    i = cuda.grid(1)
    if i < x.size:
        v = float64(x[i])
        out[i] = v * _sig(v)


@cuda.jit
def _silu_bwd(x, dout, dx):
    i = cuda.grid(1)
    if i < x.size:
        v = float64(x[i])
        s = _sig(v)
        dx[i] = dout[i] * (s * (1.0 + v * (1.0 - s)))


@cuda.jit
def _elu_fwd(x, alpha, scale, out):
    i = cuda.grid(1)
    if i < x.size:
        v = float64(x[i])
        out[i] = scale * v if v > 0 else scale * alpha * math.expm1(v)


@cuda.jit
def _elu_bwd(x, alpha, scale, dout, dx):
    i = cuda.grid(1)
    if i < x.size:
        v = float64(x[i])
        dx[i] = dout[i] * scale if v > 0 else dout[i] * (scale * alpha * math.exp(v))


@cuda.jit
def _softplus_fwd(x, out):
    i = cuda.grid(1)
    if i < x.size:
        v = float64(x[i])
        out[i] = v + math.log1p(math.exp(-v)) if v > 0 else math.log1p(math.exp(v))


@cuda.jit
def _softplus_bwd(x, dout, dx):
    i = cuda.grid(1)
    if i < x.size:
        dx[i] = dout[i] * _sig(float64(x[i]))


def silu_forward(x):
    x = on_device(x)
    return _pointwise(_silu_fwd, x, empty(x.shape, x.dtype)), x


def silu_backward(dout, cache):
    x, dout = cache, on_device(dout)
    return _pointwise(_silu_bwd, x, dout, empty(x.shape, dout.dtype))


def elu_forward(x, alpha=1.0):
    x = on_device(x)
    return _pointwise(_elu_fwd, x, float(alpha), 1.0, empty(x.shape, x.dtype)), (x, alpha)


def elu_backward(dout, cache):
    x, alpha = cache
    dout = on_device(dout)
    return _pointwise(_elu_bwd, x, float(alpha), 1.0, dout, empty(x.shape, dout.dtype))


def selu_forward(x):
    x = on_device(x)
    return _pointwise(_elu_fwd, x, SELU_ALPHA, SELU_SCALE, empty(x.shape, x.dtype)), x


def selu_backward(dout, cache):
    x, dout = cache, on_device(dout)
    return _pointwise(_elu_bwd, x, SELU_ALPHA, SELU_SCALE, dout, empty(x.shape, dout.dtype))


def softplus_forward(x):
    x = on_device(x)
    return _pointwise(_softplus_fwd, x, empty(x.shape, x.dtype)), x


def softplus_backward(dout, cache):
    x, dout = cache, on_device(dout)
    return _pointwise(_softplus_bwd, x, dout, empty(x.shape, dout.dtype))
