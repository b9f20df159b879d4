"""2-D convolution (cross-correlation, no kernel flip), plain NumPy: the ground truth.

    out[n, f, i, j] = b[f] + sum_{c, p, q} x_pad[n, c, i*sh + p, j*sw + q] * w[f, c, p, q]

The forward looks at every window through a strided view (no copy), so the whole op is one
tensordot. The backward is the same contraction taken three ways.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinydl.kernels.reference import activations


def _pad(x, padding):
    # x (N, C, H, W) -> (N, C, H + pt + pb, W + pl + pr), zeros outside
    pt, pb, pl, pr = padding
    return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))


def _windows(x_pad, kh, kw, stride):
    # (N, C, Hp, Wp) -> (N, C, OH, OW, KH, KW): window (i, j) starts at (i*sh, j*sw)
    sh, sw = stride
    return sliding_window_view(x_pad, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def conv2d_forward(x, w, b, stride, padding):
    # x (N, C, H, W), w (F, C, KH, KW), b (F,) or None; stride (sh, sw); padding (pt, pb, pl, pr)
    F, C, KH, KW = w.shape
    win = _windows(_pad(x, padding), KH, KW, stride)            # (N, C, OH, OW, KH, KW)
    out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))     # (N, OH, OW, F)
    out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))       # (N, F, OH, OW)
    if b is not None:
        out += b[None, :, None, None]
    return out, (x, w, b is not None, stride, padding)


def conv2d_backward(dout, cache):
    # dout (N, F, OH, OW) -> dx (N, C, H, W), dw (F, C, KH, KW), db (F,) or None
    x, w, has_bias, stride, padding = cache
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    sh, sw = stride
    pt, pb, pl, pr = padding
    OH, OW = dout.shape[2], dout.shape[3]
    x_pad = _pad(x, padding)
    win = _windows(x_pad, KH, KW, stride)                       # (N, C, OH, OW, KH, KW)

    # step 1: db sums dout over everything but the filter axis
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    # step 2: dw[f, c, p, q] = sum_{n, i, j} dout[n, f, i, j] * window[n, c, i, j, p, q]
    dw = np.tensordot(dout, win, axes=([0, 2, 3], [0, 2, 3]))   # (F, C, KH, KW)
    # step 3: each window's gradient dcol[n, i, j, c, p, q] = sum_f dout[n, f, i, j] * w[f, c, p, q],
    # added back onto the padded input where that window read it (overlapping windows sum)
    dcol = np.tensordot(dout, w, axes=([1], [0]))               # (N, OH, OW, C, KH, KW)
    dx_pad = np.zeros_like(x_pad)
    for p in range(KH):
        for q in range(KW):
            rows = slice(p, p + sh * (OH - 1) + 1, sh)
            cols = slice(q, q + sw * (OW - 1) + 1, sw)
            dx_pad[:, :, rows, cols] += dcol[:, :, :, :, p, q].transpose(0, 3, 1, 2)
    # step 4: drop the padding
    dx = np.ascontiguousarray(dx_pad[:, :, pt:pt + H, pl:pl + W])
    return dx, np.ascontiguousarray(dw), db


def conv2d_relu_forward(x, w, b, stride, padding):
    # ReLU(conv2d(x)): what a Conv2D with activation="relu" computes
    z, conv_cache = conv2d_forward(x, w, b, stride, padding)
    out, relu_cache = activations.relu_forward(z)
    return out, (conv_cache, relu_cache)


def conv2d_relu_backward(dout, cache):
    # through the ReLU (dout where z > 0), then through the convolution
    conv_cache, relu_cache = cache
    return conv2d_backward(activations.relu_backward(dout, relu_cache), conv_cache)
