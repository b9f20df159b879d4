"""Small pieces every CPU convolution kernel shares (conv2d, conv2d_transpose, depthwise, im2col).

    out_size     (OH, OW) of a window over a padded input: (H + pt + pb - KH) // sh + 1, ...
    valid_range  the outputs of one row whose input index falls inside the input (the rest is padding)
    sum_db       the bias gradient: dout (N, F, P) summed over images and positions
    chunks       the image ranges v5 and v7 run one at a time, so a chunk's im2col matrix stays in cache
"""
import numpy as np
from numba import njit, prange

CHUNK_COLUMNS = 4096                      # output pixels per chunk at 144 taps or more (conv2's C = 16, 3x3)
CHUNK_ENTRIES = 144 * CHUNK_COLUMNS       # im2col entries per chunk (2.4 MB in float32)


def chunks(N, P, taps):
    """[(n0, n1), ...]: the batch of N images (P output pixels each) in chunks of about
    CHUNK_ENTRIES im2col entries (taps = C*KH*KW per pixel), at least CHUNK_COLUMNS pixels and
    one image. With few taps (a first layer: 9 or 27) a chunk holds more images: fewer, larger
    kernel calls, each with its thread-pool hand-off, for the same cache footprint."""
    step = max(1, max(CHUNK_COLUMNS, CHUNK_ENTRIES // max(taps, 1)) // P)
    return [(n0, min(N, n0 + step)) for n0 in range(0, N, step)]


def out_size(x_shape, w_shape, stride, padding):
    # (OH, OW) of a convolution; ops has checked the kernel fits the padded input
    _, _, H, W = x_shape
    _, _, KH, KW = w_shape
    sh, sw = stride
    pt, pb, pl, pr = padding
    return (H + pt + pb - KH) // sh + 1, (W + pl + pr - KW) // sw + 1


@njit(cache=True)
def valid_range(n_out, stride, offset, size):
    # the outputs j in [j0, j1) whose input index j*stride + offset lies inside [0, size)
    j0 = 0
    while j0 < n_out and j0 * stride + offset < 0:
        j0 += 1
    j1 = n_out
    while j1 > j0 and (j1 - 1) * stride + offset >= size:
        j1 -= 1
    return j0, j1


@njit(parallel=True, cache=True)
def sum_db(d):
    # d (N, F, P) -> db (F,), accumulated in float64
    N, F, P = d.shape
    db = np.empty(F, dtype=d.dtype)
    for f in prange(F):
        acc = 0.0
        for n in range(N):
            for k in range(P):
                acc += d[n, f, k]
        db[f] = acc
    return db
