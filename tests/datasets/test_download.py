"""cifar10's download path against a local HTTP server: atomic, checked, with progress; and the
errors without a network."""
import socket

import numpy as np
import pytest

from tinydl.datasets import _download, cifar10

TEST = cifar10.TEST_MEMBERS


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"  # apart from make_archive's folder


def files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens (a port bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/cifar-10-python.tar.gz"


def test_download_checks_md5_renames_and_shows_progress(make_archive, http_server, official_md5, data_dir, capsys):
    arc = make_archive()
    official_md5(arc.md5)
    url = http_server.serve("/cifar-10-python.tar.gz", arc.bytes)
    _, (x_test, y_test) = cifar10.load_data(data_dir=data_dir, url=url)
    np.testing.assert_array_equal(y_test, arc.expected(TEST)[1])
    assert files(data_dir) == [cifar10.FILENAME, cifar10.CACHE_NAME]  # no .part, no temporary cache
    assert (data_dir / cifar10.FILENAME).read_bytes() == arc.bytes
    err = capsys.readouterr().err
    assert "downloading cifar-10-python.tar.gz" in err
    assert "100%" in err and err.endswith("\n")


def test_module_url_is_used_and_verify_false_skips_the_md5(make_archive, http_server, monkeypatch, data_dir):
    arc = make_archive()
    monkeypatch.setattr(cifar10, "URL", http_server.serve("/c.tgz", arc.bytes))
    (_, y_train), _ = cifar10.load_data(data_dir=data_dir, verify=False)
    np.testing.assert_array_equal(y_train, arc.expected(cifar10.TRAIN_MEMBERS)[1])


def test_connection_dropped_midway_leaves_nothing(make_archive, http_server, official_md5, data_dir):
    arc = make_archive()
    official_md5(arc.md5)
    # the server promises 10,000 more bytes than it sends, then closes the connection
    url = http_server.serve("/cut.tar.gz", arc.bytes[:2000], length=len(arc.bytes) + 10_000)
    with pytest.raises(cifar10.DownloadError, match=f"closed after 2000 of {len(arc.bytes) + 10_000} bytes"):
        cifar10.load_data(data_dir=data_dir, url=url)
    assert files(data_dir) == []
    # the next good download is not disturbed
    url = http_server.serve("/good.tar.gz", arc.bytes)
    _, (_, y_test) = cifar10.load_data(data_dir=data_dir, url=url)
    np.testing.assert_array_equal(y_test, arc.expected(TEST)[1])


def test_downloaded_file_with_wrong_md5_is_not_kept(make_archive, http_server, data_dir):
    arc = make_archive()
    url = http_server.serve("/c.tgz", arc.bytes)  # MD5 stays the official one: no match
    with pytest.raises(cifar10.ChecksumError) as err:
        cifar10.load_data(data_dir=data_dir, url=url)
    assert f"expected md5 {cifar10.MD5}, got {arc.md5}" in str(err.value)
    assert files(data_dir) == []


def test_no_network_says_where_to_put_the_archive(data_dir):
    with pytest.raises(cifar10.DownloadError) as err:
        cifar10.load_data(data_dir=data_dir, url=closed_port_url())
    message = str(err.value)
    assert "could not download http://127.0.0.1:" in message
    assert "Without network access" in message and str(data_dir / cifar10.FILENAME) in message
    assert files(data_dir) == []


def test_http_error_is_reported(http_server, data_dir):
    with pytest.raises(cifar10.DownloadError, match="HTTP 404"):
        cifar10.load_data(data_dir=data_dir, url=http_server.url + "/missing.tar.gz")
    assert files(data_dir) == []


def test_fetch_without_progress_prints_nothing(http_server, tmp_path, capsys):
    url = http_server.serve("/blob", b"0123456789" * 1000)
    path = _download.fetch(url, tmp_path / "blob", md5=_download.hashlib.md5(b"0123456789" * 1000).hexdigest(),
                           progress=False)
    assert path.read_bytes() == b"0123456789" * 1000
    assert capsys.readouterr().err == ""
    assert files(tmp_path) == ["blob"]


def test_interrupted_fetch_removes_the_part_file(http_server, tmp_path, monkeypatch):
    url = http_server.serve("/blob", b"x" * 300_000)
    calls = []

    def interrupt(n):
        calls.append(n)
        raise KeyboardInterrupt

    monkeypatch.setattr(_download._Progress, "update", lambda self, n: interrupt(n))
    with pytest.raises(KeyboardInterrupt):
        _download.fetch(url, tmp_path / "blob")
    assert calls and files(tmp_path) == []


def test_two_downloads_into_one_folder_do_not_share_a_part_file(http_server, tmp_path, monkeypatch):
    import threading
    body = bytes(range(256)) * 2000
    url = http_server.serve("/blob", body)
    both_writing = threading.Barrier(2, timeout=10)
    seen = []
    real_update = _download._Progress.update

    def update(self, n):
        if self.done == 0:                      # each download, after its first block
            both_writing.wait()
            seen.append(sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".part"))
        real_update(self, n)

    monkeypatch.setattr(_download._Progress, "update", update)
    errors = []

    def run():
        try:
            _download.fetch(url, tmp_path / "blob", progress=False)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(seen) == 2 and len(seen[0]) == 2, seen      # two .part files at once, each its own
    assert (tmp_path / "blob").read_bytes() == body
    assert files(tmp_path) == ["blob"]
