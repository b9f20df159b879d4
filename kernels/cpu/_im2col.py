"""im2col / col2im for the CPU convolution (kernels/cpu/conv2d.py v3 and up).

    cols[(c, p, q), (n, i, j)] = x[n, c, i*sh + p - pt, j*sw + q - pl]   (0 outside x)

Row r = (c*KH + p)*KW + q of ``cols`` holds, for every output position of every image, the input
value that tap (c, p, q) of the filter multiplies; a convolution is then one matrix product
w.reshape(F, C*KH*KW) @ cols. Padding is never materialized: a window reading outside x gets 0.
col2im is the adjoint: it adds each column entry back onto the input position it was read from.
"""
from numba import njit, prange

from tinydl.kernels.cpu._conv_common import valid_range as _valid_range


@njit(parallel=True, cache=True)
def im2col(x, KH, KW, sh, sw, pt, pl, OH, OW, cols):
    # x (N, C, H, W) -> cols (C*KH*KW, N*OH*OW), written in place; one row per thread task
    N, C, H, W = x.shape
    P = OH * OW
    for r in prange(C * KH * KW):
        c = r // (KH * KW)
        p = (r // KW) % KH
        q = r % KW
        j0, j1 = _valid_range(OW, sw, q - pl, W)
        for n in range(N):
            for i in range(OH):
                o = n * P + i * OW
                h = i * sh + p - pt
                if h < 0 or h >= H:
                    for j in range(OW):
                        cols[r, o + j] = 0.0
                    continue
                for j in range(j0):
                    cols[r, o + j] = 0.0
                if sw == 1:
                    a = cols[r, o + j0:o + j1]          # slices indexed from 0: no negative-index
                    b = x[n, c, h, j0 + q - pl:j1 + q - pl]   # wraparound test, so it vectorizes
                    for j in range(j1 - j0):
                        a[j] = b[j]
                else:
                    for j in range(j0, j1):
                        cols[r, o + j] = x[n, c, h, j * sw + q - pl]
                for j in range(j1, OW):
                    cols[r, o + j] = 0.0


@njit(parallel=True, cache=True)
def col2im(cols, KH, KW, sh, sw, pt, pl, OH, OW, dx):
    # cols (C*KH*KW, N*OH*OW) -> dx (N, C, H, W), which must hold zeros; one (n, c) plane per task
    N, C, H, W = dx.shape
    P = OH * OW
    for t in prange(N * C):
        n = t // C
        c = t % C
        for p in range(KH):
            for q in range(KW):
                r = (c * KH + p) * KW + q
                j0, j1 = _valid_range(OW, sw, q - pl, W)
                for i in range(OH):
                    h = i * sh + p - pt
                    if h < 0 or h >= H:
                        continue
                    o = n * P + i * OW
                    if sw == 1:
                        a = dx[n, c, h, j0 + q - pl:j1 + q - pl]
                        b = cols[r, o + j0:o + j1]
                        for j in range(j1 - j0):
                            a[j] += b[j]
                    else:
                        for j in range(j0, j1):
                            dx[n, c, h, j * sw + q - pl] += cols[r, o + j]
