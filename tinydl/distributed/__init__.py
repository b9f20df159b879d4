"""tinydl.distributed: data-parallel training over MPI (mpi4py; extra ``tinydl[distributed]``).

    from tinydl import distributed as dist
    dist.init()                                  # a world of one when not started by a launcher
    dist.rank(), dist.world_size(), dist.is_main()
    dist.allreduce(a, op="mean"), dist.allgather(a), dist.broadcast(a, root=0)
    opt = dist.DistributedOptimizer(optimizers.Adam(1e-3))
    model.fit(DataLoader(x, y, batch_size=64 // dist.world_size(), seed=0,
                         shard=(dist.rank(), dist.world_size())),
              callbacks=[dist.BroadcastWeights(root=0)], verbose=1 if dist.is_main() else 0)

Start N ranks with ``python -m tinydl launch -n N script.py`` (tinydl/distributed/launch.py).
See docs/distributed.md for the gradient-reduction ladder and what was measured.
"""
from tinydl.distributed.collectives import (
    allgather,
    allreduce,
    barrier,
    broadcast,
    comm,
    init,
    is_main,
    rank,
    rank_seed,
    world_size,
)
from tinydl.distributed.reduce import ring_allreduce
from tinydl.distributed.training import (
    BroadcastWeights,
    DistributedOptimizer,
    MetricAverage,
    average_logs,
    broadcast_optimizer_state,
    broadcast_weights,
)

__all__ = [
    "BroadcastWeights",
    "DistributedOptimizer",
    "MetricAverage",
    "allgather",
    "allreduce",
    "average_logs",
    "barrier",
    "broadcast",
    "broadcast_optimizer_state",
    "broadcast_weights",
    "comm",
    "init",
    "is_main",
    "rank",
    "rank_seed",
    "ring_allreduce",
    "world_size",
]
