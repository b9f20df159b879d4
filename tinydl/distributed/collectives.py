"""The world of ranks and its collectives, on NumPy arrays (and cuda device arrays, staged
through the host), over MPI through mpi4py.

    init()                      the world: MPI's COMM_WORLD under a launcher, else a world of one
    rank(), world_size(), is_main()
    allreduce(a, op="mean")     every rank gets the element-wise mean (or sum, max, min) of all a
    allgather(a)                every rank's a, concatenated along axis 0 (0-d arrays: stacked)
    broadcast(a, root=0)        root's a on every rank

A script started without a launcher (no mpiexec / srun environment) is a world of one and never
imports mpi4py: the same script runs alone or on N ranks. A script started by a launcher with
more than one rank but without mpi4py installed is an error, never N silent copies of a
single-process run.

The collectives return new arrays and leave their input alone. They check first (one small
pickled allgather) that every rank passed the same shape and dtype: a mismatch between ranks is
otherwise a hang or garbage, not an error. The gradient reduction of DistributedOptimizer calls
MPI's buffer collectives directly (tinydl/distributed/reduce.py), without this check.

cuda device arrays are copied to the host, reduced there and copied back (host staging). NCCL
(GPU-direct collectives) is not wired in: it needs a GPU to test, which this project's CI has not.
"""
import os

import numpy as np

from tinydl import device as _device

# variables a launcher sets in every rank it starts: MPICH's hydra / Intel MPI (PMI_*), Open MPI
_LAUNCHER_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")
_OPS = ("mean", "sum", "max", "min")

_state = {"comm": None, "initialized": False}


class _Single:
    """The communicator of a world of one (no MPI)."""
    rank, size = 0, 1


def launcher_size() -> int:
    """The number of ranks the launcher says it started (1 when no launcher did)."""
    for key in _LAUNCHER_SIZE:
        value = os.environ.get(key, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def init():
    """Join the world (idempotent) and return its communicator.

    Under mpiexec (or another launcher) this is mpi4py's COMM_WORLD; otherwise a world of one
    that needs no MPI at all."""
    if _state["initialized"]:
        return _state["comm"]
    if launcher_size() > 1 or "PMI_RANK" in os.environ or "OMPI_COMM_WORLD_RANK" in os.environ:
        try:
            from mpi4py import MPI
        except ImportError:
            if launcher_size() > 1:
                raise RuntimeError(
                    f"this process was started by an MPI launcher as one of {launcher_size()} ranks, "
                    "but mpi4py is not installed: pip install 'tinydl[distributed]' (mpi4py, mpich)"
                ) from None
            comm = _Single()
        else:
            comm = MPI.COMM_WORLD
    else:
        comm = _Single()
    _state["comm"], _state["initialized"] = comm, True
    return comm


def comm():
    """The world's communicator (init() on first use)."""
    return init()


def rank() -> int:
    return int(init().rank)


def world_size() -> int:
    return int(init().size)


def is_main() -> bool:
    """True on rank 0, the rank that prints and writes files."""
    return rank() == 0


def barrier() -> None:
    c = init()
    if c.size > 1:
        c.Barrier()


def rank_seed(seed: int, r: int | None = None) -> int:
    """A seed of rank ``r`` (default: this rank) derived from ``seed``: ``seed`` itself on rank 0
    (a one-rank run is unchanged), an independent stream on the others (dropout, augmentation)."""
    r = rank() if r is None else int(r)
    if r == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), r]).generate_state(1, np.uint64)[0] >> 1)


# -- the collectives --------------------------------------------------------------------------
def _host(a, name):
    """(host array, was it a device array) for ``a``; plain sequences become arrays."""
    if _device.is_device_array(a):
        return np.ascontiguousarray(_device.to_numpy(a)), True
    if not isinstance(a, (np.ndarray, np.generic, int, float, list, tuple)):
        raise TypeError(f"{name} needs a NumPy array (or a cuda device array); received {type(a).__name__}")
    return np.ascontiguousarray(np.asarray(a)), False


def _back(a, on_device):
    return _device.to_device(a, "cuda") if on_device else a


def _check_same(c, a, what):
    """Every rank must pass the same shape and dtype (checked on every rank, same message)."""
    metas = c.allgather((tuple(a.shape), a.dtype.str))
    if any(m != metas[0] for m in metas):
        seen = ", ".join(f"rank {r}: shape {s} dtype {np.dtype(d)}" for r, (s, d) in enumerate(metas))
        raise ValueError(f"{what} needs the same shape and dtype on every rank; received {seen}")


def _mpi_op(op):
    from mpi4py import MPI
    return {"mean": MPI.SUM, "sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op]


def allreduce(array, op="mean"):
    """The element-wise mean (op="sum": sum; "max", "min") over the ranks of ``array``; every
    rank gets the same result, as a new array (a device array for a device array). The mean of
    an integer array is float64."""
    if op not in _OPS:
        raise ValueError(f"allreduce: op must be one of {_OPS}; received op={op!r}")
    a, on_device = _host(array, "allreduce")
    c = init()
    out = a.astype(np.float64) if (op == "mean" and a.dtype.kind in "iub") else a.copy()
    if c.size > 1:
        _check_same(c, a, "allreduce")
        c.Allreduce(_in_place(), out, op=_mpi_op(op))
        if op == "mean":
            out /= c.size
    return _back(out, on_device)


def allgather(array):
    """Every rank's ``array`` concatenated along axis 0, in rank order (the first axes may
    differ between ranks; the other axes and the dtype may not). A 0-d array gives (world,)."""
    a, on_device = _host(array, "allgather")
    c = init()
    scalar = a.ndim == 0
    a = a.reshape(1) if scalar else a
    if c.size == 1:
        return _back(a.copy(), on_device)
    metas = c.allgather((tuple(a.shape[1:]), a.dtype.str, int(a.shape[0])))
    if any(m[:2] != metas[0][:2] for m in metas):
        seen = ", ".join(f"rank {r}: shape (n, *{s}) dtype {np.dtype(d)}" for r, (s, d, _) in enumerate(metas))
        raise ValueError(f"allgather needs the same trailing shape and dtype on every rank; received {seen}")
    counts = [m[2] for m in metas]
    row = int(np.prod(a.shape[1:], dtype=np.int64))
    out = np.empty((sum(counts),) + a.shape[1:], a.dtype)
    c.Allgatherv(a, [out, [n * row for n in counts]])
    return _back(out, on_device)


def broadcast(array, root=0):
    """Rank ``root``'s ``array`` on every rank (a new array; every rank passes an array of the
    same shape and dtype, whose values only root's matter)."""
    a, on_device = _host(array, "broadcast")
    c = init()
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or not 0 <= root < c.size:
        raise ValueError(f"broadcast: root must be a rank in [0, {c.size}); received root={root!r}")
    out = a.copy()
    if c.size > 1:
        _check_same(c, a, "broadcast")
        c.Bcast(out, root=int(root))
    return _back(out, on_device)


def _in_place():
    from mpi4py import MPI
    return MPI.IN_PLACE
