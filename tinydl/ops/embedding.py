"""embedding_forward / embedding_backward: a table lookup (gather) and its scatter-add."""
import numpy as np

from tinydl import device as _device
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward

__all__ = ["embedding_forward", "embedding_backward"]


def _ids(ids, V):
    """Integer indices (any shape) inside [0, V), as C-contiguous int64. Integral floats (ids
    read from a float data set) are accepted; 2.5 is not. Every id is checked here, before any
    kernel reads table[id]: an id out of range would be an out-of-bounds read in Numba."""
    host = _device.to_numpy(ids)
    if host.dtype.kind == "f":
        if not np.all(np.isfinite(host)) or np.any(host != np.round(host)):
            bad = host[~np.isfinite(host) | (host != np.round(host))][0]
            raise TypeError(f"embedding ids must be integers; received a non-integral value {bad!r} "
                            f"(dtype {host.dtype})")
    elif host.dtype.kind not in "iu":
        raise TypeError(f"embedding ids must be an integer array; received dtype {host.dtype}")
    if host.ndim < 1:
        raise ValueError(f"embedding ids must have at least one axis (the batch); received shape {host.shape}")
    _checks.nonempty(host, "embedding ids")
    if (host.min() < 0 or host.max() >= V):
        bad = host[(host < 0) | (host >= V)].flat[0]
        raise ValueError(f"embedding ids must lie in [0, input_dim) = [0, {V}); received an id {bad!r}")
    if _device.is_device_array(ids) and host.dtype == np.int64:
        return ids
    return np.ascontiguousarray(host, dtype=np.int64)


def embedding_forward(ids, table):
    """ids (...) integers in [0, V), table (V, D) -> out (..., D) with out[k] = table[ids[k]]."""
    table = _checks.as_float(table, "embedding table")
    _checks.ndim(table, "embedding table (V, D)", 2)
    _checks.nonempty(table, "embedding table (V, D)")
    ids = _ids(ids, table.shape[0])
    return run_forward("embedding", "embedding", ids, table)


def embedding_backward(dout, cache):
    """dout (..., D) -> dtable (V, D): each row of dout added into its id's row (repeats add up)."""
    dout = check_dout(dout, cache, "embedding", "embedding_backward dout")
    return run_backward("embedding", "embedding", cache, dout)
