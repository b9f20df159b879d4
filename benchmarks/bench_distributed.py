"""The gradient-reduction ladder of tinydl.distributed, timed on the seed CNN (docs/distributed.md).

    python -m tinydl launch -n 2 benchmarks/bench_distributed.py            2 ranks, cores // 2 threads each
    python -m tinydl launch -n 1 --threads 1 benchmarks/bench_distributed.py  the one-process baseline

Per version: the reduction alone (the seed CNN's 18 gradients, 4.2 M float32 = 16 MiB, as
DistributedOptimizer.step reduces them), MPI's own Allreduce of one 16 MiB buffer beside it,
and a whole training step (forward, backward, reduction, Adam) at --batch images per rank;
each the median over --steps, the slowest rank's. Rank 0 prints.
"""
import argparse
import os
import time

import numpy as np

import tinydl as td
from tinydl import distributed as dist
from tinydl import losses, optimizers, zoo
from tinydl.distributed import reduce


def slowest(seconds):
    """The slowest rank's time (what the step waits for)."""
    return float(dist.allreduce(np.array([seconds]), op="max")[0])


def timed(fn, steps):
    times = []
    for _ in range(steps):
        dist.barrier()
        t0 = time.perf_counter()
        fn()
        times.append(slowest(time.perf_counter() - t0))
    return float(np.median(times))


def reduce_only(model, version, steps):
    params = model.trainable_weights
    grads = [np.ones(p.shape, np.float32) for p in params]   # made once: the step's backward made them
    r = reduce.reducer(dist.comm(), version)

    def one():
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        r.reduce(params)
    one()
    return timed(one, steps)


def mpi_allreduce(nbytes, steps):
    from mpi4py import MPI

    buf = np.ones(nbytes // 4, np.float32)
    return timed(lambda: dist.comm().Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM), steps)


def train_step(model, version, x, y, steps):
    opt = dist.DistributedOptimizer(optimizers.Adam(1e-4), version=version)
    model.compile(optimizer=opt, loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    opt.attach(model)
    dist.broadcast_weights(model)
    for _ in range(2):                                          # warm: compile, first-touch memory
        model.train_on_batch(x, y)
    t = timed(lambda: model.train_on_batch(x, y), steps)
    opt.detach()
    return t


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=32, help="images per rank")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--versions", type=int, nargs="*", default=sorted(reduce.VERSIONS))
    parser.add_argument("--reduce-only", action="store_true", help="time the reductions, not the steps")
    args = parser.parse_args()
    world, say = dist.world_size(), (print if dist.is_main() else (lambda *a, **k: None))
    td.set_seed(0)
    model = zoo.seed_cnn()
    model.build()
    rng = np.random.default_rng(dist.rank())
    x = rng.standard_normal((args.batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, args.batch)
    nbytes = sum(p.size for p in model.trainable_weights) * 4
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    say(f"seed CNN, {len(model.trainable_weights)} gradients, {nbytes / 2**20:.1f} MiB; {world} ranks x "
        f"{os.environ.get('NUMBA_NUM_THREADS', '?')} threads, batch {args.batch} per rank; load average {load:.1f}")
    if world == 1:
        t = train_step(model, None, x, y, args.steps)
        say(f"one process: step {t * 1e3:.0f} ms, {args.batch / t:.0f} images/s")
        return
    say(f"MPI Allreduce of one {nbytes / 2**20:.1f} MiB buffer: {mpi_allreduce(nbytes, args.steps) * 1e3:.1f} ms")
    for v in args.versions:
        r = reduce_only(model, v, args.steps) if v != 3 else float("nan")  # v3 exists only inside a step
        t = float("nan") if args.reduce_only else train_step(model, v, x, y, args.steps)
        say(f"v{v}: reduction alone {r * 1e3:6.1f} ms | training step {t * 1e3:6.0f} ms, "
            f"{world * args.batch / t:.0f} images/s (global batch {world * args.batch})")


if __name__ == "__main__":
    main()
