"""conv2d v9 (kernels/cpu/conv2d.py): Winograd F(2x2, 3x3) finished, in cache-sized blocks of tiles.

v6 (kernels/cpu/_winograd.py, whose docstring derives the transforms) ran three passes over
the whole batch: the input transform into V (16, C, tiles), four times the input's size; 16
GEMMs into M (16, F, tiles), four times the output's; the output transform. Those arrays are
far larger than cache, the transforms read with stride 2, and NumPy's matmul ran the GEMMs on
OpenBLAS's own threads. v9 cuts the tiles into blocks of whole tile rows and runs the three
steps on one block at a time, each thread on its own blocks with its own V and M, so a block's
V is still in cache when its GEMMs read it and M when the output transform reads it:

  1. input transform, per channel of each image in the block: its input rows are loaded
     once, split into their even and odd columns (e, o: the only stride-2 loads); then each
     tile row's B^T d B is one unit-stride loop over its tiles, since the columns b = 0..3 of
     tile j are e[j], o[j], e[j+1], o[j+1].
  2. 16 single-threaded GEMMs M[k] (F, Tb) = U[k] (F, C) @ V[k] (C, Tb) (kernels/cpu/_blas.py).
  3. output transform Y = A^T M A, the bias added and, when asked, the ReLU applied, written
     into the NCHW output (an odd last row or column of outputs is dropped).

The backward is v7's: dx as this same transform of dout with the flipped kernel (v6's way)
measured no faster than v7's dcols GEMM and col2im at 14x14 and 16x16.
"""
import numpy as np
from numba import njit, prange

from tinydl.kernels.cpu._blas import gemm_block, num_threads
from tinydl.kernels.cpu._conv_common import valid_range
from tinydl.kernels.cpu._winograd import filter_transform, output_tile

BLOCK_TILES = 64         # tiles per block (whole tile rows, at least one): 12.5 ms against 15.3 with 128 at 64->128 @16


# No array views inside these loops: each view of a Numba array takes and drops a reference
# (two atomic operations); the three views of one input row cost about 30 ns, more than
# copying the row's few values.
@njit(cache=True)
def _split_rows(x, n, c, h0, rows, pl, e, o):
    # rows h0 .. h0 + rows - 1 of x[n, c], split by column parity: e[r, j] = x[.., h0 + r, 2j - pl],
    # o[r, j] = x[.., h0 + r, 2j + 1 - pl]; zeros outside x (the padding). Each input value is
    # read once here, with stride 2; everything after reads e and o with unit stride.
    H, W = x.shape[2], x.shape[3]
    J = e.shape[1]
    je0, je1 = valid_range(J, 2, -pl, W)
    jo0, jo1 = valid_range(J, 2, 1 - pl, W)
    for r in range(rows):
        for j in range(J):
            e[r, j] = 0.0
            o[r, j] = 0.0
        h = h0 + r
        if h < 0 or h >= H:
            continue
        for j in range(je0, je1):
            e[r, j] = x[n, c, h, 2 * j - pl]
        for j in range(jo0, jo1):
            o[r, j] = x[n, c, h, 2 * j + 1 - pl]


@njit(cache=True)
def _tile_row(e, o, r, tw, col, c, V):
    # V[:, c, col + j] = B^T d B for the tiles j of one tile row, whose four input rows are
    # e[r:r+4], o[r:r+4]: tile j's columns b = 0..3 are e[:, j], o[:, j], e[:, j+1], o[:, j+1]
    for j in range(tw):
        k = col + j
        # s = B^T d down each of the four columns: s0 = d0 - d2, s1 = d1 + d2, s2 = d2 - d1, s3 = d1 - d3
        a0, a1 = e[r, j] - e[r + 2, j], o[r, j] - o[r + 2, j]
        a2, a3 = e[r, j + 1] - e[r + 2, j + 1], o[r, j + 1] - o[r + 2, j + 1]
        b0, b1 = e[r + 1, j] + e[r + 2, j], o[r + 1, j] + o[r + 2, j]
        b2, b3 = e[r + 1, j + 1] + e[r + 2, j + 1], o[r + 1, j + 1] + o[r + 2, j + 1]
        c0, c1 = e[r + 2, j] - e[r + 1, j], o[r + 2, j] - o[r + 1, j]
        c2, c3 = e[r + 2, j + 1] - e[r + 1, j + 1], o[r + 2, j + 1] - o[r + 1, j + 1]
        d0, d1 = e[r + 1, j] - e[r + 3, j], o[r + 1, j] - o[r + 3, j]
        d2, d3 = e[r + 1, j + 1] - e[r + 3, j + 1], o[r + 1, j + 1] - o[r + 3, j + 1]
        # V = s B across each row of s, the same four combinations
        V[0, c, k], V[1, c, k], V[2, c, k], V[3, c, k] = a0 - a2, a1 + a2, a2 - a1, a1 - a3
        V[4, c, k], V[5, c, k], V[6, c, k], V[7, c, k] = b0 - b2, b1 + b2, b2 - b1, b1 - b3
        V[8, c, k], V[9, c, k], V[10, c, k], V[11, c, k] = c0 - c2, c1 + c2, c2 - c1, c1 - c3
        V[12, c, k], V[13, c, k], V[14, c, k], V[15, c, k] = d0 - d2, d1 + d2, d2 - d1, d1 - d3


@njit(cache=True)
def _input_block(x, th, tw, pt, pl, g0, g1, V, e, o):
    # tile rows g0..g1 of the batch (g = n * th + i) -> V[:, c, (g - g0) * tw + j] = B^T d B,
    # one image's share of the block at a time
    C = x.shape[1]
    g = g0
    while g < g1:
        n, i0 = g // th, g % th
        rows = min(th - i0, g1 - g)               # tile rows of image n in this block
        for c in range(C):
            _split_rows(x, n, c, 2 * i0 - pt, 2 * rows + 2, pl, e, o)
            for i in range(rows):
                _tile_row(e, o, 2 * i, tw, (g - g0 + i) * tw, c, V)
        g += rows


@njit(cache=True)
def _output_block(M, b, th, tw, g0, g1, relu, out):
    # M (16, F, tiles of rows g0..g1) -> out[n, f, 2i:2i+2, :] = A^T m A + b (max(., 0) if relu)
    F, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    full = OW // 2                                # tiles with both output columns inside
    for g in range(g0, g1):
        n, i = g // th, g % th
        col = (g - g0) * tw
        h = 2 * i
        two_rows = h + 1 < OH
        for f in range(F):
            bf = b[f]
            for j in range(tw):
                y00, y01, y10, y11 = output_tile(M, f, col + j)
                w_ = 2 * j
                out[n, f, h, w_] = y00 + bf
                if j < full:
                    out[n, f, h, w_ + 1] = y01 + bf
                if two_rows:
                    out[n, f, h + 1, w_] = y10 + bf
                    if j < full:
                        out[n, f, h + 1, w_ + 1] = y11 + bf
            if relu:       # a loop of its own over the rows just written: inside the one above,
                for r in range(h, h + 1 + two_rows):          # 4 data-dependent branches per
                    for w_ in range(OW):                      # tile cost 40% of the transform
                        v = out[n, f, r, w_]
                        out[n, f, r, w_] = 0.0 if v <= 0.0 else v   # the ReLU op's rule: NaN passes


@njit(parallel=True, cache=True)
def _blocks(x, U, b, pt, pl, th, tw, rows_per_block, relu, out):
    # every block of tile rows through transform -> 16 GEMMs -> transform; one range of blocks,
    # and one V and M, per thread
    N, C = x.shape[0], x.shape[1]
    F = U.shape[1]
    n_rows = N * th
    n_blocks = (n_rows + rows_per_block - 1) // rows_per_block
    parts = max(1, min(num_threads(), n_blocks))
    tb = rows_per_block * tw
    for p in prange(parts):
        # one spare row per plane: planes a power of two bytes apart would put the transforms'
        # 16 streams into the same cache sets
        V = np.empty((16, C + 1, tb), x.dtype)
        M = np.empty((16, F + 1, tb), x.dtype)
        e = np.empty((2 * rows_per_block + 2, tw + 1), x.dtype)
        o = np.empty((2 * rows_per_block + 2, tw + 1), x.dtype)
        for blk in range(p * n_blocks // parts, (p + 1) * n_blocks // parts):
            g0 = blk * rows_per_block
            g1 = min(n_rows, g0 + rows_per_block)
            cols = (g1 - g0) * tw
            _input_block(x, th, tw, pt, pl, g0, g1, V, e, o)
            for k in range(16):
                gemm_block(U[k], V[k, :C, :cols], M[k, :F, :cols], 0.0)
            _output_block(M, b, th, tw, g0, g1, relu, out)


def conv3x3(x, w, b, pad, relu=False):
    """Stride-1 3x3 convolution of x (N, C, H, W) with w (F, C, 3, 3) and bias b (F,), padding
    (pt, pb, pl, pr) -> (N, F, OH, OW); with relu, max(., 0) of it. b has x's dtype."""
    N, C, H, W = x.shape
    F = w.shape[0]
    pt, pb, pl, pr = pad
    OH, OW = H + pt + pb - 2, W + pl + pr - 2
    th, tw = (OH + 1) // 2, (OW + 1) // 2
    U = filter_transform(w)                                   # (16, F, C)
    out = np.empty((N, F, OH, OW), dtype=x.dtype)
    _blocks(x, U, b, pt, pl, th, tw, max(1, BLOCK_TILES // tw), relu, out)
    return out

