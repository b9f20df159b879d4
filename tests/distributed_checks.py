"""Checks that need several ranks; tests/test_distributed.py runs this file under
``mpiexec -n N python -m mpi4py tests/distributed_checks.py [names...]``.

Every rank runs every check; a failed check raises, and mpi4py's runner then aborts the whole
job with a non-zero exit. Rank 0 prints "ok <name>" after each check that passed on all ranks.
The single-process reference of each training check is computed on every rank (tiny models).
"""
import sys

import numpy as np

import tinydl as td
from tinydl import distributed as dist
from tinydl import layers, losses, optimizers
from tinydl.datasets import DataLoader

WORLD, RANK = dist.world_size(), dist.rank()
GLOBAL_BATCH = 12                                   # split over 2 or 4 ranks


def same_on_every_rank(arrays, what):
    """Bit-identical across the ranks."""
    for i, a in enumerate(arrays):
        rows = dist.allgather(np.asarray(a)[None])
        if not all(np.array_equal(rows[0], r) for r in rows[1:]):
            raise AssertionError(f"{what}: array {i} differs between ranks")


def close(actual, expected, what, rtol=1e-9, atol=1e-12):
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"{what}: array {i}")


# -- collectives ------------------------------------------------------------------------------
def check_collectives():
    a = np.arange(5, dtype=np.float64) + RANK
    total = sum(np.arange(5) + r for r in range(WORLD))
    assert np.array_equal(dist.allreduce(a, op="sum"), total)
    assert np.allclose(dist.allreduce(a), total / WORLD)
    assert np.array_equal(dist.allreduce(a, op="max"), np.arange(5) + WORLD - 1)
    assert np.array_equal(a, np.arange(5) + RANK), "allreduce must leave its input alone"
    rows = dist.allgather(np.full((RANK + 1, 2), RANK, np.int64))     # uneven first axes
    assert rows.shape == (WORLD * (WORLD + 1) // 2, 2)
    assert list(rows[:, 0]) == [r for r in range(WORLD) for _ in range(r + 1)]
    assert list(dist.allgather(np.float32(RANK))) == list(range(WORLD))
    b = dist.broadcast(np.full(3, 7.0 if RANK == WORLD - 1 else -1.0), root=WORLD - 1)
    assert np.array_equal(b, [7.0, 7.0, 7.0])
    try:
        dist.allreduce(np.zeros(2 + RANK))
    except ValueError as e:
        assert "same shape and dtype on every rank" in str(e) and "rank 1: shape (3,)" in str(e)
    else:
        raise AssertionError("a shape mismatch between ranks must raise")


def check_ring():
    from mpi4py import MPI

    comm = dist.comm()
    rng = np.random.default_rng(RANK)
    for n in (1, 3, WORLD + 1, 1000, 12347):                       # fewer elements than ranks too
        for dtype in (np.float64, np.float32):
            x = rng.standard_normal(n).astype(dtype)
            ring, mpi = dist.ring_allreduce(comm, x.copy()), x.copy()
            comm.Allreduce(MPI.IN_PLACE, mpi, op=MPI.SUM)
            tol = 1e-12 if dtype == np.float64 else 1e-5
            np.testing.assert_allclose(ring, mpi, rtol=tol, atol=tol, err_msg=f"ring n={n} {dtype}")
            same_on_every_rank([ring], f"ring n={n}")


# -- data-parallel training equals one process on the whole batch -------------------------------
def _data(n=48, features=6, classes=3):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, features)).astype(np.float32)      # the loader hands out float32
    y = rng.integers(0, classes, n)
    return x, y


def _mlp(seed):
    td.set_seed(seed)
    model = td.Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(3)])
    model.build((6,), np.float64)
    return model


OPTIMIZERS = {
    "sgd-momentum-global-clip": lambda: optimizers.SGD(0.1, momentum=0.9, global_clipnorm=0.5),
    "adam-clip-weight-decay": lambda: optimizers.Adam(0.01, clipnorm=0.1, weight_decay=1e-3),
}


def _reference_fit(make_model, make_opt, x, y, start, epochs=2):
    model = make_model(0)
    model.set_weights(start)
    model.compile(optimizer=make_opt(), loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(DataLoader(x, y, batch_size=GLOBAL_BATCH, shuffle=True, seed=5), epochs=epochs, verbose=0)
    return model, history


def _distributed_fit(make_model, make_opt, x, y, version, epochs=2, bucket_mb=None):
    model = make_model(10 + RANK)                                  # every rank starts elsewhere
    start = [dist.broadcast(w) for w in model.get_weights()]      # ... and rank 0's start wins
    opt = dist.DistributedOptimizer(make_opt(), version=version, bucket_mb=bucket_mb)
    model.compile(optimizer=opt, loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    loader = DataLoader(x, y, batch_size=GLOBAL_BATCH // WORLD, shuffle=True, seed=5, shard=(RANK, WORLD))
    history = model.fit(loader, epochs=epochs, verbose=0, callbacks=[dist.BroadcastWeights(root=0)])
    return model, history, start, opt


def check_fit_equals_one_process():
    x, y = _data()
    for name, make_opt in OPTIMIZERS.items():
        for version in (1, 2, 3, 4):
            model, history, start, opt = _distributed_fit(_mlp, make_opt, x, y, version, bucket_mb=1e-4)
            ref, ref_history = _reference_fit(_mlp, make_opt, x, y, start)
            what = f"fit {name} v{version}"
            close(model.get_weights(), ref.get_weights(), what)
            same_on_every_rank(model.get_weights(), what)
            for key in ("loss", "accuracy"):                       # logs averaged over the ranks
                np.testing.assert_allclose(history.history[key], ref_history.history[key], rtol=1e-9,
                                           err_msg=f"{what}: logs {key}")
            assert opt.iterations == ref.optimizer.iterations == 8
            if version == 3:                                       # buckets really left during backward
                assert opt._reducer.started_in_backward >= 2, opt._reducer.started_in_backward


def check_custom_loop():
    """optimizer.step(model.trainable_weights) in a loop of one's own (version 3, attached)."""
    x, y = _data()
    loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
    models = {}
    for world, rank in ((WORLD, RANK), (1, 0)):
        model = _mlp(10 + rank)                                    # rank 0 starts as one process
        if world > 1:
            dist.broadcast_weights(model)
            opt = dist.DistributedOptimizer(optimizers.Adam(0.01, global_clipnorm=0.2), version=3).attach(model)
        else:
            opt = optimizers.Adam(0.01, global_clipnorm=0.2)
        b = GLOBAL_BATCH // world
        for xb, yb in DataLoader(x, y, batch_size=b, seed=3, shard=(rank, world)):
            model.zero_grad()
            out = model.forward(xb, training=True)
            loss_fn(yb, out)
            model.backward(loss_fn.backward())
            opt.step(model.trainable_weights)
        models[world] = model
    close(models[WORLD].get_weights(), models[1].get_weights(), "custom loop")
    same_on_every_rank(models[WORLD].get_weights(), "custom loop")


def check_broadcast_state():
    """BroadcastWeights hands out rank 0's optimizer state (Adam's moments, the step count) too."""
    x, y = _data()
    model = _mlp(10 + RANK)
    opt = optimizers.Adam(0.01)
    model.compile(optimizer=opt, loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    for _ in range(RANK + 1):                                      # each rank its own history
        model.train_on_batch(x[RANK::WORLD], y[RANK::WORLD])
    cb = dist.BroadcastWeights(root=0)
    cb.set_model(model)
    cb.on_train_begin()
    assert opt.iterations == 1
    state = [opt._state[id(p)][k] for p in model.trainable_weights for k in ("m", "v")]
    same_on_every_rank(state + model.get_weights(), "optimizer state")


def _cnn(synchronized):
    def make(seed):
        td.set_seed(seed)
        model = td.Sequential([
            layers.Input((2, 6, 6)), layers.Conv2D(3, 3, padding="same"),
            layers.BatchNormalization(momentum=0.8, synchronized=synchronized), layers.ReLU(),
            layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(4),
            layers.BatchNormalization(momentum=0.8, synchronized=synchronized), layers.Dense(3)])
        model.build((2, 6, 6), np.float64)
        return model
    return make


def check_synchronized_batchnorm():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((24, 2, 6, 6)) * 2 + 1).astype(np.float32)
    y = rng.integers(0, 3, 24)
    make_opt = lambda: optimizers.SGD(0.05, momentum=0.9)
    model, _, start, _ = _distributed_fit(_cnn(True), make_opt, x, y, version=2)
    ref, _ = _reference_fit(_cnn(False), make_opt, x, y, start)
    close(model.get_weights(), ref.get_weights(), "synchronized batch norm")   # moving statistics too
    same_on_every_rank(model.get_weights(), "synchronized batch norm")
    # and the check can fail: per-rank statistics are not one process's
    local, _, _, _ = _distributed_fit(_cnn(False), make_opt, x, y, version=2)
    worst = max(np.abs(a - b).max() for a, b in zip(local.get_weights(), ref.get_weights(), strict=True))
    assert worst > 1e-4, worst


def check_cuda():
    """cuda device arrays go through the host (NUMBA_ENABLE_CUDASIM=1 runs this without a GPU):
    the collectives, the reductions of device gradients, synchronized batch norm."""
    from numba import cuda

    from tinydl.distributed import reduce

    out = dist.allreduce(cuda.to_device(np.arange(3.0) + RANK), op="sum")
    assert td.device.is_device_array(out)
    assert np.array_equal(out.copy_to_host(), sum(np.arange(3.0) + r for r in range(WORLD)))
    assert np.array_equal(dist.broadcast(cuda.to_device(np.full(2, float(RANK)))).copy_to_host(), [0.0, 0.0])
    for version in (1, 2, 4):
        holders = [type("P", (), {"grad": cuda.to_device(np.full(k, float(RANK)))})() for k in (3, 5)]
        reduce.reducer(dist.comm(), version).reduce(holders)
        for h in holders:
            assert td.device.is_device_array(h.grad)
            np.testing.assert_allclose(h.grad.copy_to_host(), (WORLD - 1) / 2)
    from tinydl.distributed import sync_batchnorm as sbn
    rng = np.random.default_rng(RANK)
    x, dout = rng.standard_normal((3, 2, 4, 4)), rng.standard_normal((3, 2, 4, 4))
    outs = []
    for put in (np.array, cuda.to_device):
        stats = [put(np.zeros(2)), put(np.ones(2))]
        out, cache = sbn.sync_batchnorm_forward(put(x), put(np.ones(2)), put(np.zeros(2)), *stats, training=True)
        grads = sbn.sync_batchnorm_backward(put(dout), cache)
        outs.append([td.to_numpy(a) for a in (out, *grads, *stats)])
    close(outs[1], outs[0], "synchronized batch norm on cuda arrays")


def check_fails(argv):
    """A rank that raises: mpi4py's runner must end the whole job (the others wait in a collective)."""
    if RANK == WORLD - 1:
        raise RuntimeError(f"rank {RANK} fails on purpose")
    dist.allreduce(np.zeros(3))                                    # would wait forever without the abort


CHECKS = {"collectives": check_collectives, "ring": check_ring, "fit": check_fit_equals_one_process,
          "custom_loop": check_custom_loop, "state": check_broadcast_state,
          "sync_bn": check_synchronized_batchnorm}
OPTIONAL = {"cuda": check_cuda}                     # run only when named


def main(names):
    td.set_device("reference")
    if names == ["fail"]:
        check_fails(names)
        return
    for name in names or list(CHECKS):
        {**CHECKS, **OPTIONAL}[name]()
        dist.barrier()
        if dist.is_main():
            print(f"ok {name} on {WORLD} ranks", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
