"""Depthwise 2-D convolution, plain NumPy: the ground truth.

Each input channel c is convolved with its own M = depth_multiplier kernels, nothing is summed
across channels. Output channel o = c * M + m reads input channel c = o // M only:

    out[n, o, i, j] = b[o] + sum_{p, q} x_pad[n, o // M, i*sh + p, j*sw + q] * w[o, 0, p, q]

w (C*M, 1, KH, KW) is PyTorch's layout for Conv2d(groups=C) (Keras stores (KH, KW, C, M)).
"""
import numpy as np

from tinydl.kernels.reference.conv2d import _pad, _windows


def depthwise_conv2d_forward(x, w, b, stride, padding):
    # x (N, C, H, W), w (C*M, 1, KH, KW), b (C*M,) or None -> out (N, C*M, OH, OW)
    N, C = x.shape[:2]
    CM, _, KH, KW = w.shape
    M = CM // C
    win = _windows(_pad(x, padding), KH, KW, stride)                 # (N, C, OH, OW, KH, KW)
    w4 = w.reshape(C, M, KH, KW)
    out = np.einsum("ncijpq,cmpq->ncmij", win, w4)                   # (N, C, M, OH, OW)
    out = np.ascontiguousarray(out.reshape(N, CM, out.shape[3], out.shape[4]))
    if b is not None:
        out += b[None, :, None, None]
    return out, (x, w, b is not None, stride, padding)


def depthwise_conv2d_backward(dout, cache):
    # dout (N, C*M, OH, OW) -> dx (N, C, H, W), dw (C*M, 1, KH, KW), db (C*M,) or None
    x, w, has_bias, stride, padding = cache
    N, C, H, W = x.shape
    CM, _, KH, KW = w.shape
    M = CM // C
    sh, sw = stride
    pt, pb, pl, pr = padding
    OH, OW = dout.shape[2], dout.shape[3]
    x_pad = _pad(x, padding)
    win = _windows(x_pad, KH, KW, stride)                            # (N, C, OH, OW, KH, KW)
    d5 = dout.reshape(N, C, M, OH, OW)
    # step 1: db; step 2: dw[c, m, p, q] = sum_{n, i, j} dout[n, c*M+m, i, j] * window[n, c, i, j, p, q]
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    dw = np.einsum("ncmij,ncijpq->cmpq", d5, win).reshape(w.shape)
    # step 3: each window's gradient, summed over the M kernels of its channel, added back
    # onto the padded input where the window read it
    dwin = np.einsum("ncmij,cmpq->ncijpq", d5, w.reshape(C, M, KH, KW))
    dx_pad = np.zeros_like(x_pad)
    for p in range(KH):
        for q in range(KW):
            dx_pad[:, :, p:p + sh * (OH - 1) + 1:sh, q:q + sw * (OW - 1) + 1:sw] += dwin[..., p, q]
    dx = np.ascontiguousarray(dx_pad[:, :, pt:pt + H, pl:pl + W])
    return dx, np.ascontiguousarray(dw), db
