"""cifar10.load_data from local archives: layout, cache, and every failure leaving nothing behind."""
import pickle
import tarfile

import numpy as np
import pytest

from tinydl.datasets import cifar10

TRAIN = cifar10.TRAIN_MEMBERS
TEST = cifar10.TEST_MEMBERS


def leftovers(folder):
    """Files a failed load must not leave: a cache, a temporary cache, a .part download."""
    return sorted(p.name for p in folder.iterdir()
                  if p.name.startswith((cifar10.CACHE_NAME, ".tmp-")) or p.suffix == ".part")


def test_pixel_layout_and_labels(make_archive, tmp_path):
    def known_pixel(rows):  # channel 1 (G), row 5, column 7 of the second image of data_batch_2
        rows["data_batch_2"][0][1, 1 * 1024 + 5 * 32 + 7] = 201

    arc = make_archive(edit=known_pixel)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(data_dir=tmp_path / "d", archive=arc.path, verify=False)

    n_train = sum(len(arc.rows[m][1]) for m in TRAIN)
    assert x_train.shape == (n_train, 3, 32, 32) and x_train.dtype == np.uint8
    assert x_test.shape == (3, 3, 32, 32) and x_test.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert x_train.flags.c_contiguous
    # data_batch_1 has 2 rows, so the second row of data_batch_2 is image 3
    assert x_train[3, 1, 5, 7] == 201
    # every pixel: x[n, c, h, w] == data[n, c*1024 + h*32 + w], batches in order 1..5
    data, labels = arc.expected(TRAIN)
    n, c, h, w = np.meshgrid(*map(np.arange, x_train.shape), indexing="ij")
    np.testing.assert_array_equal(x_train, data[n, c * 1024 + h * 32 + w])
    np.testing.assert_array_equal(y_train, labels)
    data, labels = arc.expected(TEST)
    assert x_test[2, 2, 31, 0] == data[2, 2 * 1024 + 31 * 32 + 0]
    assert x_test[0, 0, 0, 31] == data[0, 31]
    np.testing.assert_array_equal(y_test, labels)


def test_label_names():
    assert cifar10.label_names() == list(cifar10.LABEL_NAMES)
    assert len(cifar10.LABEL_NAMES) == 10
    assert cifar10.LABEL_NAMES[0] == "airplane" and cifar10.LABEL_NAMES[3] == "cat"
    assert cifar10.LABEL_NAMES[9] == "truck"


def test_cache_is_reused_without_reading_the_archive(make_archive, tmp_path, monkeypatch, official_md5):
    arc = make_archive()
    official_md5(arc.md5)  # this archive plays the official one, so verify=True passes
    first = cifar10.load_data(data_dir=tmp_path, archive=arc.path)
    assert (tmp_path / cifar10.CACHE_NAME).is_file()

    def no_tar(*args, **kwargs):
        raise AssertionError("the archive was opened although a cache exists")

    monkeypatch.setattr(tarfile, "open", no_tar)
    second = cifar10.load_data(data_dir=tmp_path, archive=arc.path)
    arc.path.unlink()  # and with no archive at all, nor network
    third = cifar10.load_data(data_dir=tmp_path, download=False)
    for again in (second, third):
        for (xa, ya), (xb, yb) in zip(first, again, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)


def test_cache_of_another_archive_is_not_used(make_archive, tmp_path):
    a, b = make_archive("a.tar.gz", seed=1), make_archive("b.tar.gz", seed=2)
    (xa, _), _ = cifar10.load_data(data_dir=tmp_path, archive=a.path, verify=False)
    (xb, yb), _ = cifar10.load_data(data_dir=tmp_path, archive=b.path, verify=False)
    assert not np.array_equal(xa, xb)
    np.testing.assert_array_equal(yb, b.expected(TRAIN)[1])


def test_damaged_cache_is_rebuilt(make_archive, tmp_path):
    arc = make_archive()
    (tmp_path / cifar10.CACHE_NAME).write_bytes(b"PK\x03\x04 not really a zip")
    (x, y), _ = cifar10.load_data(data_dir=tmp_path, archive=arc.path, verify=False)
    np.testing.assert_array_equal(y, arc.expected(TRAIN)[1])
    (x2, _), _ = cifar10.load_data(data_dir=tmp_path, archive=arc.path, verify=False)  # now from the cache
    np.testing.assert_array_equal(x, x2)


def test_archive_in_data_dir_is_used(make_archive, tmp_path, official_md5):
    arc = make_archive()
    official_md5(arc.md5)
    (tmp_path / cifar10.FILENAME).write_bytes(arc.bytes)
    _, (x_test, y_test) = cifar10.load_data(data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(y_test, arc.expected(TEST)[1])


def test_truncated_archive_fails_clearly_and_leaves_nothing(make_archive, tmp_path):
    arc = make_archive()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(arc.bytes[: len(arc.bytes) // 2])
    data_dir = tmp_path / "d"
    with pytest.raises(ValueError, match="truncated or corrupt"):
        cifar10.load_data(data_dir=data_dir, archive=cut, verify=False)
    assert not data_dir.exists() or leftovers(data_dir) == []
    # the next good load is not disturbed
    _, (_, y_test) = cifar10.load_data(data_dir=data_dir, archive=arc.path, verify=False)
    np.testing.assert_array_equal(y_test, arc.expected(TEST)[1])


def test_not_an_archive(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not a tar file" * 100)
    with pytest.raises(ValueError, match="not a readable CIFAR-10 archive"):
        cifar10.load_data(data_dir=tmp_path, archive=junk, verify=False)
    assert leftovers(tmp_path) == []


def test_wrong_md5_names_expected_and_got(make_archive, tmp_path):
    arc = make_archive()
    with pytest.raises(cifar10.ChecksumError) as err:
        cifar10.load_data(data_dir=tmp_path, archive=arc.path)  # verify=True: the official md5
    message = str(err.value)
    assert "expected md5 c58f30108f718f92721af3b95e74349a" in message
    assert f"got {arc.md5}" in message
    assert leftovers(tmp_path) == []


def test_no_download_and_nothing_cached_says_where_to_put_the_archive(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        cifar10.load_data(data_dir=tmp_path / "empty", download=False)
    message = str(err.value)
    assert str(tmp_path / "empty" / cifar10.FILENAME) in message
    assert cifar10.URL in message and "archive=" in message


def test_missing_archive_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="archive must be an existing file"):
        cifar10.load_data(data_dir=tmp_path, archive=tmp_path / "nope.tar.gz")


def test_missing_member_is_named(make_archive, tmp_path):
    arc = make_archive(omit=("data_batch_3",))
    with pytest.raises(ValueError, match="missing the member\\(s\\) cifar-10-batches-py/data_batch_3"):
        cifar10.load_data(data_dir=tmp_path, archive=arc.path, verify=False)
    assert leftovers(tmp_path) == []


def test_member_with_wrong_shape(archive_tools, make_archive, tmp_path):
    bad = archive_tools.pickle_batch(np.zeros((2, 100), np.uint8), [0, 1])
    arc = make_archive(members={"test_batch": bad})
    with pytest.raises(ValueError, match=r"test_batch: b'data' must be uint8 of shape \(rows, 3072\); "
                                         r"received uint8 of shape \(2, 100\)"):
        cifar10.load_data(data_dir=tmp_path, archive=arc.path, verify=False)


def test_label_out_of_range(archive_tools, make_archive, tmp_path):
    bad = archive_tools.pickle_batch(np.zeros((2, 3072), np.uint8), [0, 10])
    arc = make_archive(members={"data_batch_1": bad})
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\); received values in \[0, 10\]"):
        cifar10.load_data(data_dir=tmp_path, archive=arc.path, verify=False)


def test_pickle_naming_other_code_is_refused(tmp_path, make_archive):
    class Evil:
        def __reduce__(self):
            import os
            return (os.system, ("echo should-not-run",))

    arc = make_archive(members={"data_batch_4": pickle.dumps({b"data": Evil()}, protocol=2)})
    with pytest.raises(ValueError, match="refusing to load (posix|nt|os).system"):
        cifar10.load_data(data_dir=tmp_path, archive=arc.path, verify=False)


def test_protocol_5_pickles_load(make_archive, tmp_path):
    data = np.arange(3 * 3072, dtype=np.uint8).reshape(3, 3072)
    raw = pickle.dumps({b"data": data, b"labels": [7, 8, 9]}, protocol=5)
    arc = make_archive(members={"test_batch": raw})
    _, (x_test, y_test) = cifar10.load_data(data_dir=tmp_path, archive=arc.path, verify=False)
    np.testing.assert_array_equal(x_test.reshape(3, 3072), data)
    np.testing.assert_array_equal(y_test, [7, 8, 9])


def test_dataset_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYDL_HOME", str(tmp_path / "home"))
    assert cifar10.dataset_dir() == tmp_path / "home" / "datasets"
    assert cifar10.dataset_dir(tmp_path / "mine") == tmp_path / "mine"
    monkeypatch.delenv("TINYDL_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert cifar10.dataset_dir() == tmp_path / "user" / ".tinydl" / "datasets"


def test_archive_with_leading_dot_slash(make_archive, tmp_path):
    arc = make_archive()
    members = {}
    with tarfile.open(arc.path) as tar:
        for info in tar:
            members["./" + info.name] = tar.extractfile(info).read()
    path = tmp_path / "dot.tar"
    with tarfile.open(path, "w") as tar:  # also uncompressed: "r:*" reads both
        import io
        for name, raw in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    (_, y_train), _ = cifar10.load_data(data_dir=tmp_path, archive=path, verify=False)
    np.testing.assert_array_equal(y_train, arc.expected(TRAIN)[1])


def test_write_tar_helper_makes_the_official_member_names(archive_tools, tmp_path):
    path = archive_tools.write_tar(tmp_path / "t.tar.gz", {"data_batch_1": b"x"})
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["cifar-10-batches-py/data_batch_1"]


# ---- a cache is trusted only as far as it checks out (issue 9, item 16) -------------------------
def _forged_cache(path, md5, n=10):
    """A well-formed npz with the right md5 tag but NHWC float32 images and labels up to 400."""
    rng = np.random.default_rng(0)
    x = rng.random((n, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 401, n).astype(np.int64)
    np.savez(path, x_train=x, y_train=y, x_test=x[:3], y_test=y[:3], source_md5=np.array(md5))


def test_cache_with_the_official_md5_but_wrong_arrays_is_rebuilt_from_the_archive(make_archive, tmp_path,
                                                                                    official_md5):
    arc = make_archive()
    official_md5(arc.md5)
    (tmp_path / cifar10.FILENAME).write_bytes(arc.bytes)
    _forged_cache(tmp_path / cifar10.CACHE_NAME, arc.md5)
    (x, y), _ = cifar10.load_data(data_dir=tmp_path, download=False)
    assert x.dtype == np.uint8 and x.shape[1:] == (3, 32, 32)
    np.testing.assert_array_equal(y, arc.expected(TRAIN)[1])
    arrays, problem = cifar10._read_cache(tmp_path / cifar10.CACHE_NAME, arc.md5)   # rewritten, good
    assert problem is None and arrays[0][0].shape == x.shape


@pytest.mark.parametrize("forge, says", [
    (lambda path: _forged_cache(path, cifar10.MD5), r"damaged \(x_train must be uint8 \(N, 3, 32, 32\); "
                                                    r"it is float32 \(10, 32, 32, 3\)\)"),
    (lambda path: path.write_bytes(b"PK\x03\x04 not really a zip"), r"damaged \(BadZipFile"),
])
def test_damaged_cache_without_an_archive_is_reported_as_damaged(tmp_path, forge, says):
    forge(tmp_path / cifar10.CACHE_NAME)
    with pytest.raises(FileNotFoundError, match=r"the cache .*cifar10.npz is " + says) as err:
        cifar10.load_data(data_dir=tmp_path, download=False)
    assert "no cache at" not in str(err.value)


def test_labels_out_of_range_in_the_cache_are_refused(tmp_path):
    x = np.zeros((4, 3, 32, 32), np.uint8)
    np.savez(tmp_path / cifar10.CACHE_NAME, x_train=x, y_train=np.array([0, 1, 2, 400]), x_test=x,
             y_test=np.zeros(4, np.int64), source_md5=np.array(cifar10.MD5))
    with pytest.raises(FileNotFoundError, match=r"y_train must lie in \[0, 10\); it holds \[0, 400\]"):
        cifar10.load_data(data_dir=tmp_path, download=False)


def test_read_only_folder_loads_from_the_archive_and_warns(make_archive, tmp_path, official_md5, monkeypatch):
    """What a read-only folder does to the atomic write (creating the file: EACCES), also as root."""
    from tinydl import _io
    arc = make_archive()
    official_md5(arc.md5)
    (tmp_path / cifar10.FILENAME).write_bytes(arc.bytes)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(_io, "_create", refuse)
    with pytest.warns(RuntimeWarning, match=r"could not write the CIFAR-10 cache .*Permission denied.*"
                                            r"loaded from the archive"):
        _, (_, y_test) = cifar10.load_data(data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(y_test, arc.expected(TEST)[1])
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="root writes into read-only folders")
def test_read_only_folder_for_real(make_archive, tmp_path, official_md5):
    arc = make_archive()
    official_md5(arc.md5)
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / cifar10.FILENAME).write_bytes(arc.bytes)
    folder.chmod(0o555)
    try:
        with pytest.warns(RuntimeWarning, match="could not write the CIFAR-10 cache"):
            cifar10.load_data(data_dir=folder, download=False)
    finally:
        folder.chmod(0o755)


def test_a_forged_terabyte_pickle_length_is_refused_clearly(make_archive, tmp_path):
    # protocol 4, BINBYTES8 declaring 1 TiB, then 16 bytes: nothing may try to allocate 1 TiB
    forged = b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"x" * 16
    arc = make_archive(members={"data_batch_2": forged})
    with pytest.raises(ValueError, match=r"data_batch_2: the pickle declares more data than the "
                                         r"member's 27 bytes hold"):
        cifar10.load_data(data_dir=tmp_path / "d", archive=arc.path, verify=False)


def test_a_member_declaring_too_many_bytes_is_refused(make_archive, tmp_path, monkeypatch):
    arc = make_archive()
    monkeypatch.setattr(cifar10, "MAX_MEMBER_BYTES", 1000)      # the small members are ~6 KB
    with pytest.raises(ValueError, match=r"member cifar-10-batches-py/data_batch_\d declares [\d,]+ bytes"):
        cifar10.load_data(data_dir=tmp_path / "d", archive=arc.path, verify=False)
