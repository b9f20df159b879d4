"""2-D convolution on the GPU (numba.cuda): im2col + GEMM, the lesson plan.

    out[n, f, i, j] = b[f] + sum_{c, p, q} x_pad[n, c, i*sh + p, j*sw + q] * w[f, c, p, q]

Unrolled into one matrix product over every output pixel of the batch (P = N * OH * OW rows,
CKK = C * KH * KW columns), with w viewed as w2 (F, CKK) without a copy:

    forward    cols (P, CKK)  = im2col(x)                    one thread per element of cols
               out_t (P, F)   = cols @ w2^T + b             GEMM (tb = 1), bias in its epilogue
               out (N, F, OH, OW) = out_t permuted           one thread per output element
    backward   dout_t (P, F)  = dout permuted back
               dw2 (F, CKK)   = dout_t^T @ cols              GEMM (ta = 1); cols recomputed
               dcols (P, CKK) = dout_t @ w2                  GEMM
               dx = col2im(dcols)                            one thread per element of dx,
                    gathering from every window that read it: no atomics, no race
               db = column sums of dout_t

The backward recomputes cols instead of caching them: im2col is one cheap gather, and cols is
KH*KW times larger than x, the largest buffer of the layer.

v1  GEMM v1 (one thread per output). Not measured (no GPU in the session that wrote it).
v2  GEMM v2 (16x16 shared-memory tiles). Not measured yet.
v3  GEMM v3 (64x64 block tiles, 4x4 outputs per thread in registers). Not measured yet.

DEFAULT = 3. The GEMM ladder itself is told in kernels/cuda/_gemm.py.
"""
from numba import cuda, float64

from tinydl.kernels._relu_after import composed
from tinydl.kernels._versions import active
from tinydl.kernels.cuda import activations
from tinydl.kernels.cuda._gemm import gemm
from tinydl.kernels.cuda._launch import TPB, blocks, empty, flat, on_device
from tinydl.kernels.cuda.elementwise import colsum


@cuda.jit
def _im2col(x, KH, KW, sh, sw, pt, pl, OH, OW, cols):
    # x (N, C, H, W) -> cols (P, CKK): cols[(n, i, j), (c, p, q)] = x[n, c, i*sh - pt + p, j*sw - pl + q]
    k = cuda.grid(1)
    if k < cols.size:
        N, C, H, W = x.shape
        ckk = cols.shape[1]
        row, col = k // ckk, k % ckk
        n, ij = row // (OH * OW), row % (OH * OW)
        i, j = ij // OW, ij % OW
        c, pq = col // (KH * KW), col % (KH * KW)
        h = i * sh - pt + pq // KW
        w = j * sw - pl + pq % KW
        if 0 <= h < H and 0 <= w < W:
            cols[row, col] = x[n, c, h, w]
        else:
            cols[row, col] = 0                       # the zero padding


@cuda.jit
def _col2im(dcols, KH, KW, sh, sw, pt, pl, OH, OW, dx):
    # dx[n, c, h, w] = sum over the windows (i, j) that read it of dcols[(n, i, j), (c, p, q)]
    k = cuda.grid(1)
    if k < dx.size:
        N, C, H, W = dx.shape
        n, r = k // (C * H * W), k % (C * H * W)
        c, hw = r // (H * W), r % (H * W)
        h, w = hw // W, hw % W
        acc = 0.0
        for p in range(KH):
            hi = h + pt - p                          # = i * sh for the window row i that reads h
            if hi >= 0 and hi % sh == 0 and hi // sh < OH:
                i = hi // sh
                for q in range(KW):
                    wj = w + pl - q
                    if wj >= 0 and wj % sw == 0 and wj // sw < OW:
                        j = wj // sw
                        acc += float64(dcols[(n * OH + i) * OW + j, (c * KH + p) * KW + q])
        dx[n, c, h, w] = acc


@cuda.jit
def _rows_to_nchw(out_t, N, F, HW, out):
    # out_t (N*HW, F) -> out (N, F, HW): neighbouring threads write neighbouring pixels
    k = cuda.grid(1)
    if k < N * F * HW:
        n, r = k // (F * HW), k % (F * HW)
        f, s = r // HW, r % HW
        out[k] = out_t[n * HW + s, f]


@cuda.jit
def _nchw_to_rows(d, N, F, HW, d_t):
    # d (N, F, HW) flat -> d_t (N*HW, F)
    k = cuda.grid(1)
    if k < N * F * HW:
        n, r = k // (F * HW), k % (F * HW)
        f, s = r // HW, r % HW
        d_t[n * HW + s, f] = d[k]


def _im2col_launch(x, KH, KW, stride, padding, OH, OW):
    N, C = x.shape[0], x.shape[1]
    cols = empty((N * OH * OW, C * KH * KW), x.dtype)
    _im2col[blocks(cols.size), TPB](x, KH, KW, stride[0], stride[1], padding[0], padding[2], OH, OW, cols)
    return cols


def _forward(version):
    def conv2d_forward(x, w, b, stride, padding):
        # x (N, C, H, W), w (F, C, KH, KW), b (F,) or None; stride (sh, sw); padding (pt, pb, pl, pr)
        x, w, b = on_device(x), on_device(w), on_device(b)
        N, C, H, W = x.shape
        F, _, KH, KW = w.shape
        pt, pb, pl, pr = padding
        OH = (H + pt + pb - KH) // stride[0] + 1
        OW = (W + pl + pr - KW) // stride[1] + 1
        cols = _im2col_launch(x, KH, KW, stride, padding, OH, OW)          # step 1: (P, CKK)
        w2 = w.reshape(F, C * KH * KW)
        out_t = gemm(cols, w2, tb=True, bias=b, version=version)          # step 2: (P, F)
        out = empty((N, F, OH, OW), x.dtype)                              # step 3: to NCHW
        _rows_to_nchw[blocks(out.size), TPB](out_t, N, F, OH * OW, flat(out))
        return out, (x, w, b is not None, stride, padding)
    conv2d_forward.__name__ = f"conv2d_forward_v{version}"
    return conv2d_forward


def _backward(version):
    def conv2d_backward(dout, cache):
        # dout (N, F, OH, OW) -> dx (N, C, H, W), dw (F, C, KH, KW), db (F,) or None
        x, w, has_bias, stride, padding = cache
        dout = on_device(dout)
        N, C, H, W = x.shape
        F, _, KH, KW = w.shape
        OH, OW = dout.shape[2], dout.shape[3]
        dout_t = empty((N * OH * OW, F), dout.dtype)                      # step 1: NCHW to rows
        _nchw_to_rows[blocks(dout.size), TPB](flat(dout), N, F, OH * OW, dout_t)
        db = colsum(dout_t) if has_bias else None                         # step 2: bias
        cols = _im2col_launch(x, KH, KW, stride, padding, OH, OW)         # step 3: dw = dout_t^T cols
        dw = gemm(dout_t, cols, ta=True, version=version).reshape(F, C, KH, KW)
        w2 = w.reshape(F, C * KH * KW)                                    # step 4: dcols = dout_t w2
        dcols = gemm(dout_t, w2, version=version)
        dx = empty((N, C, H, W), x.dtype)                                 # step 5: col2im
        _col2im[blocks(dx.size), TPB](dcols, KH, KW, stride[0], stride[1], padding[0], padding[2],
                                      OH, OW, dx)
        return dx, dw, db
    conv2d_backward.__name__ = f"conv2d_backward_v{version}"
    return conv2d_backward


conv2d_forward_v1, conv2d_backward_v1 = _forward(1), _backward(1)
conv2d_forward_v2, conv2d_backward_v2 = _forward(2), _backward(2)
conv2d_forward_v3, conv2d_backward_v3 = _forward(3), _backward(3)

VERSIONS = {
    1: {"conv2d_forward": conv2d_forward_v1, "conv2d_backward": conv2d_backward_v1},
    2: {"conv2d_forward": conv2d_forward_v2, "conv2d_backward": conv2d_backward_v2},
    3: {"conv2d_forward": conv2d_forward_v3, "conv2d_backward": conv2d_backward_v3},
}
for _ops in VERSIONS.values():       # conv2d_relu: the conv, then the ReLU kernel (not fused yet)
    _ops.update(composed("conv2d", _ops["conv2d_forward"], _ops["conv2d_backward"], activations.relu_forward,
                         activations.relu_backward))
DEFAULT = 3


def conv2d_forward(x, w, b, stride, padding):
    return VERSIONS[active("cuda.conv2d", DEFAULT)]["conv2d_forward"](x, w, b, stride, padding)


def conv2d_backward(dout, cache):
    return VERSIONS[active("cuda.conv2d", DEFAULT)]["conv2d_backward"](dout, cache)


def conv2d_relu_forward(x, w, b, stride, padding):
    return VERSIONS[active("cuda.conv2d", DEFAULT)]["conv2d_relu_forward"](x, w, b, stride, padding)


def conv2d_relu_backward(dout, cache):
    return VERSIONS[active("cuda.conv2d", DEFAULT)]["conv2d_relu_backward"](dout, cache)
