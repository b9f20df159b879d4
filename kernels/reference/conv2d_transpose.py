"""Transposed 2-D convolution, plain NumPy: the ground truth. It is conv2d's input gradient.

A convolution y -> x with kernel w (C, F, KH, KW) (C output channels, F input channels; stride s,
padding p) has the input gradient

    dy = conv2d_backward's dx of dout = x: every x[n, c, i, j] spreads w[c, :, :, :] * x[n, c, i, j]
         onto the window of y that produced it (a full convolution with the flipped kernel)

and that map x (N, C, H, W) -> (N, F, OH, OW) IS the transposed convolution. So:

    forward   = conv2d's input-gradient step (step 3 of kernels/reference/conv2d.py's backward)
    backward  dx = conv2d_forward(dy, w): the adjoint of an input gradient is the convolution itself
              dw = conv2d's weight gradient with the roles swapped: input dy, output gradient x
              db = dy summed over (n, i, j)

w keeps PyTorch's ConvTranspose2d layout (in_channels, out_channels, KH, KW) = (C, F, KH, KW),
which is exactly conv2d's (out_channels, in_channels, ...) layout of the convolution y -> x.
``padding`` (pt, pb, pl, pr) and ``stride`` are that convolution's; ``output_size`` (OH, OW) is y's
size, which a convolution of stride > 1 does not fix from x alone.
"""
import numpy as np

from tinydl.kernels.reference import conv2d as _conv


def conv2d_transpose_forward(x, w, b, stride, padding, output_size):
    # x (N, C, H, W), w (C, F, KH, KW), b (F,) or None -> out (N, F, OH, OW)
    N, C, H, W = x.shape
    _, F, KH, KW = w.shape
    sh, sw = stride
    pt, pb, pl, pr = padding
    OH, OW = output_size
    # conv2d's input gradient: each x pixel's contribution dcol[n, i, j, f, p, q] = sum_c x * w,
    # added onto the padded output where the convolution's window (i, j) read it
    dcol = np.tensordot(x, w, axes=([1], [0]))                  # (N, H, W, F, KH, KW)
    out_pad = np.zeros((N, F, OH + pt + pb, OW + pl + pr), dtype=x.dtype)
    for p in range(KH):
        for q in range(KW):
            rows = slice(p, p + sh * (H - 1) + 1, sh)
            cols = slice(q, q + sw * (W - 1) + 1, sw)
            out_pad[:, :, rows, cols] += dcol[:, :, :, :, p, q].transpose(0, 3, 1, 2)
    out = np.ascontiguousarray(out_pad[:, :, pt:pt + OH, pl:pl + OW])
    if b is not None:
        out += b[None, :, None, None]
    return out, (x, w, b is not None, stride, padding)


def conv2d_transpose_backward(dout, cache):
    # dout (N, F, OH, OW) -> dx (N, C, H, W), dw (C, F, KH, KW), db (F,) or None
    x, w, has_bias, stride, padding = cache
    _, _, KH, KW = w.shape
    # step 1: dx is the convolution of dout with w (conv2d's forward)
    dx, _ = _conv.conv2d_forward(dout, w, None, stride, padding)
    # step 2: dw[c, f, p, q] = sum_{n, i, j} x[n, c, i, j] * window(dout)[n, f, i, j, p, q]
    # (conv2d's weight gradient, with dout as the input and x as the output gradient)
    win = _conv._windows(_conv._pad(dout, padding), KH, KW, stride)   # (N, F, H, W, KH, KW)
    dw = np.tensordot(x, win, axes=([0, 2, 3], [0, 2, 3]))            # (C, F, KH, KW)
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return dx, np.ascontiguousarray(dw), db
