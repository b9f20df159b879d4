"""Embedding lookup on the GPU (numba.cuda): a gather forward and a scatter-add backward.

The ids are flattened to (K,) and dout to (K, D).

    forward   one thread per output element (k, d): out[k, d] = table[ids[k], d]; neighbouring
              threads read neighbouring columns of one table row (coalesced)
    backward  one thread per dout element (k, d) adds it into dtable[ids[k], d] with
              cuda.atomic.add: positions with the same id hit the same address, and the atomic
              makes their additions land one after another instead of overwriting each other.
              (The order of those additions is not fixed, so float32 sums of repeated ids may
              differ in the last bit from run to run.)
"""
from numba import cuda

from tinydl.kernels.cuda._launch import TPB, blocks, empty, on_device, zeros


@cuda.jit
def _gather(ids, table, out):
    i = cuda.grid(1)
    if i < out.size:
        D = table.shape[1]
        k, d = i // D, i % D
        out[k, d] = table[ids[k], d]


@cuda.jit
def _scatter_add(ids, dout, dtable):
    i = cuda.grid(1)
    if i < dout.size:
        D = dout.shape[1]
        k, d = i // D, i % D
        cuda.atomic.add(dtable, (ids[k], d), dout[k, d])


def embedding_forward(ids, table):
    # ids (...) int64 inside [0, V) (checked by tinydl.ops), table (V, D) -> out (..., D)
    ids, table = on_device(ids), on_device(table)
    K, D = ids.size, table.shape[1]
    out = empty((K, D), table.dtype)
    if out.size:
        _gather[blocks(out.size), TPB](ids.reshape(K), table, out)
    return out.reshape(tuple(ids.shape) + (D,)), (ids, tuple(table.shape))


def embedding_backward(dout, cache):
    # dout (..., D) -> dtable (V, D)
    ids, table_shape = cache
    dout = on_device(dout)
    K, D = ids.size, table_shape[1]
    dtable = zeros(table_shape, dout.dtype)
    if K * D:
        _scatter_add[blocks(K * D), TPB](ids.reshape(K), dout.reshape(K, D), dtable)
    return dtable
