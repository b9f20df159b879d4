"""Dense on the GPU (numba.cuda): the lesson plan.

    y = x @ w + b     x (N, ..., in) is viewed as rows x2 (M, in) with M = N * ..., w (in, units)

Every version is three GEMMs from kernels/cuda/_gemm.py plus one column sum; what changes is
the GEMM, whose ladder is told in _gemm.py's docstring:

    forward    out (M, units) = x2 @ w + b          the bias added in the GEMM's epilogue
    backward   dx (M, in)     = dout @ w^T           (tb = 1: w read transposed, no copy)
               dw (in, units) = x2^T @ dout          (ta = 1)
               db (units,)    = column sums of dout  (elementwise.colsum, one thread per unit)

v1  GEMM v1: one thread per output, operands from global memory. Not measured (no GPU).
v2  GEMM v2: 16x16 shared-memory tiles. Not measured yet.
v3  GEMM v3: 64x64 block tiles, a 4x4 register block per thread. Not measured yet.

DEFAULT = 3 (the version with the least memory traffic per flop; to be confirmed by
benchmarks/bench_cuda.py on a GPU).
"""
from tinydl.kernels._versions import active
from tinydl.kernels.cuda._gemm import gemm
from tinydl.kernels.cuda._launch import on_device
from tinydl.kernels.cuda.elementwise import colsum


def _forward(version):
    def dense_forward(x, w, b):
        # x (N, ..., in), w (in, units), b (units,) or None -> out (N, ..., units)
        x, w, b = on_device(x), on_device(w), on_device(b)
        x2 = x.reshape(x.size // w.shape[0], w.shape[0])
        out = gemm(x2, w, bias=b, version=version)
        return out.reshape(tuple(x.shape[:-1]) + (w.shape[1],)), (x, w, b is not None)
    dense_forward.__name__ = f"dense_forward_v{version}"
    return dense_forward


def _backward(version):
    def dense_backward(dout, cache):
        # dout (N, ..., units) -> dx (N, ..., in), dw (in, units), db (units,) or None
        x, w, has_bias = cache
        dout = on_device(dout)
        units = w.shape[1]
        x2 = x.reshape(x.size // w.shape[0], w.shape[0])      # (M, in)
        d2 = dout.reshape(dout.size // units, units)          # (M, units)
        dx = gemm(d2, w, tb=True, version=version)            # step 1: dout @ w^T
        dw = gemm(x2, d2, ta=True, version=version)           # step 2: x2^T @ dout
        db = colsum(d2) if has_bias else None                 # step 3: the bias gradient
        return dx.reshape(x.shape), dw, db
    dense_backward.__name__ = f"dense_backward_v{version}"
    return dense_backward


dense_forward_v1, dense_backward_v1 = _forward(1), _backward(1)
dense_forward_v2, dense_backward_v2 = _forward(2), _backward(2)
dense_forward_v3, dense_backward_v3 = _forward(3), _backward(3)

VERSIONS = {
    1: {"dense_forward": dense_forward_v1, "dense_backward": dense_backward_v1},
    2: {"dense_forward": dense_forward_v2, "dense_backward": dense_backward_v2},
    3: {"dense_forward": dense_forward_v3, "dense_backward": dense_backward_v3},
}
DEFAULT = 3


def dense_forward(x, w, b):
    return VERSIONS[active("cuda.dense", DEFAULT)]["dense_forward"](x, w, b)


def dense_backward(dout, cache):
    return VERSIONS[active("cuda.dense", DEFAULT)]["dense_backward"](dout, cache)
