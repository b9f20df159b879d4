"""Embedding lookup on the CPU (Numba): a gather forward and a scatter-add backward.

The ids are flattened to (K,) and dout to (K, D). The forward is a parallel gather with no
hazard: each output row is written once. The backward is the lesson: several positions may carry
the same id, so a prange over positions would have two threads adding into one row of dtable at
once (a race: updates get lost). The versions are two ways around it.

v1  serial scatter: one thread walks the K positions and adds each dout row into dtable[id].
    Always right, never parallel.
v2  parallel over the embedding columns: the D columns are split into blocks, each task adds the
    K positions' entries of ITS columns only, so no two tasks ever touch the same element. The
    parallelism is D-wide, which is the wide axis in practice (D = 64..1024, K small per batch).
    Not measured yet.

DEFAULT = 2.
"""
import numpy as np
from numba import njit, prange

from tinydl.kernels._versions import active


@njit(parallel=True, cache=True)
def _gather(ids, table, out):
    # ids (K,), table (V, D) -> out (K, D)
    D = table.shape[1]
    for k in prange(ids.size):
        row = ids[k]
        for d in range(D):
            out[k, d] = table[row, d]


def embedding_forward(ids, table):
    # ids (...) int64 inside [0, V) (checked by tinydl.ops), table (V, D) -> out (..., D)
    flat = ids.reshape(-1)
    out = np.empty((flat.size, table.shape[1]), dtype=table.dtype)
    _gather(flat, table, out)
    return out.reshape(ids.shape + (table.shape[1],)), (ids, table.shape)


# ---- v1: one thread scatters every position --------------------------------------------------
@njit(cache=True)
def _scatter_v1(ids, dout, dtable):
    # dtable (V, D) zeros; dtable[ids[k]] += dout[k] for k = 0..K-1
    D = dout.shape[1]
    for k in range(ids.size):
        row = ids[k]
        for d in range(D):
            dtable[row, d] += dout[k, d]


# ---- v2: tasks own column blocks, so repeated ids never race ---------------------------------
COLUMN_BLOCK = 16


@njit(parallel=True, cache=True)
def _scatter_v2(ids, dout, dtable):
    D = dout.shape[1]
    for blk in prange((D + COLUMN_BLOCK - 1) // COLUMN_BLOCK):
        d0 = blk * COLUMN_BLOCK
        d1 = min(d0 + COLUMN_BLOCK, D)
        for k in range(ids.size):
            row = ids[k]
            for d in range(d0, d1):
                dtable[row, d] += dout[k, d]


def _backward(scatter):
    def embedding_backward(dout, cache):
        # dout (..., D) -> dtable (V, D)
        ids, table_shape = cache
        dtable = np.zeros(table_shape, dtype=dout.dtype)
        scatter(ids.reshape(-1), dout.reshape(-1, table_shape[1]), dtable)
        return dtable
    return embedding_backward


embedding_backward_v1 = _backward(_scatter_v1)
embedding_backward_v2 = _backward(_scatter_v2)

VERSIONS = {
    1: {"embedding_forward": embedding_forward, "embedding_backward": embedding_backward_v1},
    2: {"embedding_forward": embedding_forward, "embedding_backward": embedding_backward_v2},
}
DEFAULT = 2


def embedding_backward(dout, cache):
    return VERSIONS[active("cpu.embedding", DEFAULT)]["embedding_backward"](dout, cache)
