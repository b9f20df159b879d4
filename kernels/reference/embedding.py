"""Embedding lookup, plain NumPy: the ground truth.

    forward   out[..., :] = table[ids[...], :]            a gather: ids (...) -> out (..., D)
    backward  dtable[v, :] = sum of dout[k, :] over every position k with ids[k] == v
              a scatter-add: an index that repeats accumulates, one that never appears gets 0
"""
import numpy as np


def embedding_forward(ids, table):
    # ids (...) int64 inside [0, V); table (V, D) -> out (..., D)
    out = table[ids]
    return np.ascontiguousarray(out), (ids, table.shape)


def embedding_backward(dout, cache):
    # dout (..., D) -> dtable (V, D); np.add.at adds once per occurrence (dtable[ids] += would not)
    ids, table_shape = cache
    dtable = np.zeros(table_shape, dtype=dout.dtype)
    np.add.at(dtable, ids.reshape(-1), dout.reshape(-1, table_shape[1]))
    return dtable
