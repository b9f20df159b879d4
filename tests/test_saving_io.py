"""Atomic writes (tinydl/_io.py): files get the umask's mode, not mkstemp's 0600, and the
temporary file of a writer killed mid-write is removed by the next save or load."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tinydl as td
from tinydl import _io, callbacks, layers

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX modes and pids")


@pytest.fixture
def umask():
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask):
        os.umask(mask)
    yield set_mask
    os.umask(old)


def _mode(path):
    return os.stat(path).st_mode & 0o777


def _model():
    return td.Sequential([layers.Input((2,)), layers.Dense(2)])


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_honour_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    model = _model()
    model.compile("sgd", "mse")
    model.save_weights(tmp_path / "w.npz")
    model.save(tmp_path / "m.keras")
    with _io.atomic_open(tmp_path / "log.csv", "w") as f:
        f.write("epoch\n")
    log = callbacks.CSVLogger(tmp_path / "train.csv")
    log.on_train_begin()
    log.on_epoch_end(0, {"loss": 1.0})
    for name in ("w.npz", "m.keras", "log.csv", "train.csv"):
        assert _mode(tmp_path / name) == mode, name


def test_a_rewrite_keeps_the_umask_mode_and_leaves_no_temporary_file(tmp_path, umask):
    umask(0o022)
    model = _model()
    for _ in range(3):
        model.save_weights(tmp_path / "w.npz")
    assert sorted(os.listdir(tmp_path)) == ["w.npz"] and _mode(tmp_path / "w.npz") == 0o644


KILLED_WRITER = textwrap.dedent("""
    import os, sys
    from tinydl import _io
    with _io.atomic_open(sys.argv[1], "wb") as f:
        f.write(b"half a file")
        f.flush()
        print(os.getpid(), flush=True)
        os._exit(9)               # killed mid-write: no cleanup runs
""")


def _killed_writer(path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 9, out.stderr
    return int(out.stdout.split()[0])


@pytest.mark.parametrize("then", ["save_weights", "load_weights", "save", "load_model"])
def test_the_temporary_file_of_a_killed_writer_is_removed_next_time(tmp_path, then):
    name = "m.keras" if then in ("save", "load_model") else "w.npz"
    model = _model()
    model.compile("sgd", "mse")
    (model.save if name == "m.keras" else model.save_weights)(tmp_path / name)
    good = (tmp_path / name).read_bytes()
    pid = _killed_writer(tmp_path / name)
    orphans = [n for n in os.listdir(tmp_path) if n != name]
    assert len(orphans) == 1 and orphans[0].startswith(f".{name}.tmp-{pid}-")
    assert (tmp_path / name).read_bytes() == good            # the killed write replaced nothing
    if then == "save_weights":
        model.save_weights(tmp_path / name)
    elif then == "load_weights":
        model.load_weights(tmp_path / name)
    elif then == "save":
        model.save(tmp_path / name)
    else:
        td.models.load_model(tmp_path / name)
    assert os.listdir(tmp_path) == [name]


def test_a_live_writers_temporary_file_is_kept(tmp_path):
    target = tmp_path / "w.npz"
    # a write in flight in another live process (our parent), and one of this process
    live = tmp_path / f".w.npz.tmp-{os.getppid()}-abcd1234-0"
    live.write_bytes(b"in flight")
    with _io.atomic_open(target, "wb") as f:
        f.write(b"x")
        inner = [n for n in os.listdir(tmp_path) if n.startswith(".w.npz.tmp-") and n != live.name]
        assert len(inner) == 1
        assert _io.clean_orphans(target) == []                 # our own write in flight stays
    assert live.exists() and target.read_bytes() == b"x"


def test_an_orphan_of_an_earlier_process_with_our_pid_is_removed(tmp_path):
    # pids are reused (a container's pid 1 every run): a different per-process token marks it dead
    stale = tmp_path / f".w.npz.tmp-{os.getpid()}-00000000-3"
    stale.write_bytes(b"old")
    assert _io.clean_orphans(tmp_path / "w.npz") == [str(stale)]


def test_other_files_are_never_touched(tmp_path):
    keep = [".w.npz.tmp-notapid", ".other.npz.tmp-999999999-x-0", "w.npz.tmp-999999999-x-0", ".tmp-abc.npz"]
    for n in keep:
        (tmp_path / n).write_bytes(b"")
    _io.clean_orphans(tmp_path / "w.npz")
    assert sorted(os.listdir(tmp_path)) == sorted(keep)


def test_a_failed_write_removes_its_temporary_file(tmp_path):
    with pytest.raises(RuntimeError):
        with _io.atomic_open(tmp_path / "x.bin", "wb") as f:
            f.write(b"partial")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_a_long_file_name_still_gets_a_temporary_file(tmp_path):
    name = "w" * 240 + ".npz"
    with _io.atomic_open(tmp_path / name, "wb") as f:
        f.write(np.zeros(3).tobytes())
    assert os.listdir(tmp_path) == [name]
