"""tinydl.distributed in one process: the world of one, the sharded DataLoader, the synchronized
batch norm's arithmetic, the launcher's command line. (Several ranks: tests/test_distributed.py.)"""
import sys

import numpy as np
import pytest

import tinydl as td
from tinydl import distributed as dist
from tinydl import layers, losses, ops, optimizers
from tinydl.datasets import DataLoader
from tinydl.distributed import collectives, launch, reduce, sync_batchnorm


# -- the world of one ---------------------------------------------------------------------------
def test_a_script_without_launcher_is_a_world_of_one():
    assert (dist.rank(), dist.world_size(), dist.is_main()) == (0, 1, True)
    a = np.arange(4.0)
    out = dist.allreduce(a, op="sum")
    assert np.array_equal(out, a) and out is not a
    assert dist.allreduce(np.array([1, 2])).dtype == np.float64           # the mean of ints
    assert np.array_equal(dist.allgather(np.ones((2, 3))), np.ones((2, 3)))
    assert dist.allgather(np.float32(5)).shape == (1,)
    assert np.array_equal(dist.broadcast([1.0, 2.0]), [1.0, 2.0])
    with pytest.raises(ValueError, match="op must be one of"):
        dist.allreduce(a, op="prod")
    with pytest.raises(ValueError, match=r"root must be a rank in \[0, 1\)"):
        dist.broadcast(a, root=1)
    with pytest.raises(TypeError, match="NumPy array"):
        dist.allreduce("abc")


def test_a_launcher_without_mpi4py_is_an_error(monkeypatch):
    monkeypatch.setattr(collectives, "_state", {"comm": None, "initialized": False})
    monkeypatch.setitem(sys.modules, "mpi4py", None)                     # import mpi4py fails
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setenv("PMI_RANK", "1")
    with pytest.raises(RuntimeError, match="one of 2 ranks, but mpi4py is not installed"):
        dist.init()


def test_rank_seed_keeps_rank_0_and_separates_the_others():
    assert dist.rank_seed(7, 0) == 7
    seeds = {dist.rank_seed(7, r) for r in range(1, 5)}
    assert len(seeds) == 4 and 7 not in seeds and all(0 <= s < 2**63 for s in seeds)


def _mlp():
    td.set_seed(3)
    model = td.Sequential([layers.Input((5,)), layers.Dense(4, activation="relu"), layers.Dense(3)])
    model.build((5,), np.float64)
    return model


def test_distributed_optimizer_in_a_world_of_one_is_the_wrapped_optimizer():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
    weights = []
    for wrap in (False, True):
        model = _mlp()
        opt = optimizers.SGD(0.1, momentum=0.9, global_clipnorm=1.0)
        opt = dist.DistributedOptimizer(opt) if wrap else opt
        model.compile(optimizer=opt, loss=losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False, callbacks=[dist.BroadcastWeights()])
        weights.append(model.get_weights())
    for a, b in zip(*weights, strict=True):
        assert np.array_equal(a, b)


def test_distributed_optimizer_forwards_the_wrapped_state():
    inner = optimizers.Adam(1e-3)
    opt = dist.DistributedOptimizer(inner)
    assert opt.optimizer is inner and opt.get_config() == inner.get_config()
    opt.learning_rate = 0.5                                              # as LearningRateScheduler does
    assert inner.learning_rate == 0.5 and opt.current_learning_rate() == 0.5
    opt.iterations = 3
    assert inner.iterations == 3
    assert optimizers.get(opt) is opt
    with pytest.raises(TypeError, match="already distributed"):
        dist.DistributedOptimizer(opt)


def test_reducer_versions():
    assert sorted(reduce.VERSIONS) == [1, 2, 3, 4] and reduce.DEFAULT in reduce.VERSIONS
    with pytest.raises(ValueError, match=r"one of \[1, 2, 3, 4\]"):
        reduce.reducer(collectives._Single(), version=7)
    for v, cls in reduce.VERSIONS.items():                  # the docstring lists every version
        assert f"\nv{v}  " in reduce.__doc__ and cls.version == v


def test_bucketed_reducer_wraps_and_unwraps_backward():
    model = _mlp()
    r = reduce.Bucketed(collectives._Single(), bucket_mb=1e-5).attach(model)
    assert all("backward" in vars(layer) for layer in model.layers)
    assert [len(b.params) for b in r.buckets] == [1, 1, 1, 1]            # last layer's first
    assert r.buckets[0].params[0] is model.layers[-1].kernel
    with pytest.raises(RuntimeError, match="already attached"):
        reduce.Bucketed(collectives._Single()).attach(model)
    r.detach()
    assert not any("backward" in vars(layer) for layer in model.layers)


# -- the sharded DataLoader -----------------------------------------------------------------------
@pytest.mark.parametrize("n, batch, world", [(48, 4, 2), (50, 4, 4), (37, 3, 3), (9, 5, 4)])
def test_shard_union_is_the_single_process_batch(n, batch, world):
    x, y = np.arange(n, dtype=np.float32)[:, None], np.arange(n)
    single = DataLoader(x, y, batch_size=batch * world, shuffle=True, seed=11)
    ranks = [DataLoader(x, y, batch_size=batch, shuffle=True, seed=11, shard=(r, world)) for r in range(world)]
    assert len({len(r) for r in ranks}) == 1                             # the same number of batches
    for _epoch in range(2):
        steps = [list(r) for r in ranks]
        global_batches = [yb for _, yb in single]
        assert len(steps[0]) == len(global_batches)
        seen = []
        for t, expected in enumerate(global_batches):
            union = np.concatenate([steps[r][t][1] for r in range(world)])
            assert len({len(steps[r][t][1]) for r in range(world)}) == 1  # equal batch sizes
            padded = sorted(union.tolist())
            extra = list(padded)
            for v in expected.tolist():
                extra.remove(v)                                          # every sample of batch t is there
            seen += union.tolist()
            if t < len(global_batches) - 1:
                assert not extra, "only the last step may carry padded repeats"
        assert sorted(set(seen)) == list(range(n)) and len(seen) == -(-n // world) * world


def test_shard_order_is_the_same_for_every_world_size_and_rank_0_of_1_is_unsharded():
    x, y = np.zeros((30, 2), np.float32), np.arange(30)
    plain = [yb for _, yb in DataLoader(x, y, batch_size=30, seed=4)]
    one = [yb for _, yb in DataLoader(x, y, batch_size=30, seed=4, shard=(0, 1))]
    two = [np.concatenate([b for _, b in DataLoader(x, y, batch_size=15, seed=4, shard=(r, 2))]) for r in (0, 1)]
    assert np.array_equal(plain[0], one[0])
    assert np.array_equal(two[0], plain[0][0::2]) and np.array_equal(two[1], plain[0][1::2])


def test_shard_drop_last_and_augmentation_per_rank():
    x = np.random.default_rng(0).integers(0, 255, (21, 3, 8, 8)).astype(np.uint8)
    y = np.arange(21)
    ranks = [DataLoader(x, y, batch_size=4, seed=2, drop_last=True, shard=(r, 2)) for r in (0, 1)]
    assert [len(r) for r in ranks] == [2, 2]                             # 10 each: 2 full batches of 4
    assert sum(len(b) for _, b in ranks[0]) == 8
    aug = [DataLoader(x, y, batch_size=21, seed=2, augment="crop_flip", shard=(r, 2)) for r in (0, 1)]
    (xa, ya), (xb, _) = next(iter(aug[0])), next(iter(aug[1]))
    same = DataLoader(x, y, batch_size=21, seed=2, shard=(0, 2))
    assert np.array_equal(ya, next(iter(same))[1])                      # augmentation leaves the order alone
    again = next(iter(DataLoader(x, y, batch_size=21, seed=2, augment="crop_flip", shard=(1, 2))))[0]
    assert np.array_equal(xb, again)                                     # a rank's augmentation is seeded
    assert not np.array_equal(xa[:10], xb[:10])


@pytest.mark.parametrize("shard, match", [((2, 2), "0 <= rank < world"), ((0,), "rank, world"),
                                          ((0.0, 2), "rank, world"), ("0,2", "rank, world")])
def test_shard_must_be_rank_and_world(shard, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(np.zeros((4, 1)), np.zeros(4), seed=0, shard=shard)


def test_sharded_shuffle_needs_a_seed():
    with pytest.raises(ValueError, match="needs a seed"):
        DataLoader(np.zeros((4, 1)), np.zeros(4), shard=(0, 2))
    DataLoader(np.zeros((4, 1)), np.zeros(4), shard=(0, 2), shuffle=False)  # a fixed order needs none


# -- synchronized batch norm ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 3, 4, 3), (7, 4)])
def test_sync_batchnorm_alone_is_batchnorm(shape):
    """In a world of one the synchronized arithmetic is the reference batch norm (float64)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape) * 3 + 1
    C = shape[1]
    gamma, beta, dout = rng.standard_normal(C), rng.standard_normal(C), rng.standard_normal(shape)
    stats = [np.zeros(C), np.ones(C)], [np.zeros(C), np.ones(C)]
    with td.device.using("reference"):
        ref, cache = ops.batchnorm_forward(x, gamma, beta, *stats[0], 0.9, 1e-3, training=True)
        ref_grads = ops.batchnorm_backward(dout, cache)
    out, sync_cache = sync_batchnorm.sync_batchnorm_forward(x, gamma, beta, *stats[1], 0.9, 1e-3, training=True)
    grads = sync_batchnorm.sync_batchnorm_backward(dout, sync_cache)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads + tuple(stats[1]), ref_grads + tuple(stats[0]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_sync_batchnorm_checks_its_input():
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\)"):
        sync_batchnorm.sync_batchnorm_forward(np.ones((2, 3)), np.ones(4), np.ones(3), np.zeros(3), np.ones(3))
    with pytest.raises(TypeError, match="synchronized must be True or False"):
        layers.BatchNormalization(synchronized="yes")
    assert layers.BatchNormalization(synchronized=True).get_config()["synchronized"] is True


# -- the launcher --------------------------------------------------------------------------------------
def test_launch_command_lines(tmp_path, capsys):
    assert launch.python_command(["train", "--epochs", "1"]) == ["-m", "tinydl", "train", "--epochs", "1"]
    assert launch.python_command(["run.py", "-x"]) == ["run.py", "-x"]
    assert launch.python_command(["-m", "pkg.mod"]) == ["-m", "pkg.mod"]
    with pytest.raises(ValueError, match="give a COMMAND"):
        launch.python_command([])
    assert launch.threads_per_rank(2, explicit=3) == 3
    assert launch.threads_per_rank(10 ** 6) == 1
    hosts = tmp_path / "hosts"
    hosts.write_text("# two machines\nnode1:4\nnode2 slots=4\n\n")
    assert launch.hosts_in(hosts) == 2
    from tinydl.__main__ import main
    if not _has_mpiexec():
        pytest.skip("no mpiexec")
    assert main(["launch", "-n", "4", "--hostfile", str(hosts), "--threads", "2", "--dry-run", "demo"]) == 0
    out = capsys.readouterr().out
    assert "threads per rank: 2" in out and f"-n 4 -f {hosts} {sys.executable} -m mpi4py -m tinydl demo" in out


def test_launch_without_mpiexec_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"tinydl\[distributed\]"):
        launch.find_mpiexec()


def _has_mpiexec():
    try:
        launch.find_mpiexec()
        return True
    except FileNotFoundError:
        return False
