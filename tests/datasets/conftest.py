"""Fixtures for the data tests: small archives in the official CIFAR-10 format, and a local HTTP
server (127.0.0.1, a thread, stopped at teardown) to download them from."""
import hashlib
import http.server
import io
import pickle
import tarfile
import threading

import numpy as np
import pytest

from tinydl.datasets import cifar10

# rows per member of the small archives (not the official 10,000: no size is hard-coded)
ROWS = {"data_batch_1": 2, "data_batch_2": 3, "data_batch_3": 1, "data_batch_4": 2, "data_batch_5": 2,
        "test_batch": 3}


def pickle_batch(data, labels, official_style=True):
    """A batch pickled as the archive holds it: protocol 2, bytes keys. ``official_style`` names
    numpy.core.multiarray._reconstruct, as the Python 2 pickles of the official archive do."""
    batch = {b"batch_label": b"testing batch", b"labels": [int(v) for v in labels], b"data": data,
             b"filenames": [b"img_%d.png" % i for i in range(len(labels))]}
    raw = pickle.dumps(batch, protocol=2)
    if official_style:
        assert b"numpy._core.multiarray\n_reconstruct" in raw
        raw = raw.replace(b"numpy._core.multiarray\n_reconstruct", b"numpy.core.multiarray\n_reconstruct")
    return raw


def write_tar(path, members):
    """A .tar.gz holding cifar-10-batches-py/<name> for each (name, bytes) in ``members``."""
    with tarfile.open(path, "w:gz") as tar:
        for name, raw in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


class Archive:
    """A small archive on disk and the rows it holds (``rows[name]``: data (r, 3072), labels (r,))."""

    def __init__(self, path, rows):
        self.path, self.rows = path, rows
        self.bytes = path.read_bytes()
        self.md5 = hashlib.md5(self.bytes).hexdigest()

    def expected(self, members):
        data = np.concatenate([self.rows[m][0] for m in members])
        labels = np.concatenate([self.rows[m][1] for m in members])
        return data, labels


@pytest.fixture
def make_archive(tmp_path):
    """make_archive(name="a.tar.gz", omit=(), seed=0, members=None, edit=None) -> Archive: random
    pixels and labels per member; ``edit(rows)`` may change them before pickling; ``omit`` leaves
    members out; ``members`` replaces the bytes of some."""
    def make(name="cifar-test.tar.gz", omit=(), seed=0, members=None, edit=None):
        rng = np.random.default_rng(seed)
        rows, raws = {}, {}
        for member, r in ROWS.items():
            rows[member] = (rng.integers(0, 256, (r, 3072), dtype=np.uint8), rng.integers(0, 10, r))
        if edit is not None:
            edit(rows)
        for member, (data, labels) in rows.items():
            if member not in omit:
                raws[member] = pickle_batch(data, labels, official_style=(len(labels) % 2 == 0))
        raws.update(members or {})
        folder = tmp_path / "archives"
        folder.mkdir(exist_ok=True)
        return Archive(write_tar(folder / name, raws), rows)
    return make


class _Server:
    """Serves ``routes[path] = (body, declared_length)``; a declared length larger than the body
    sends the body and closes the connection (a download cut mid-way)."""

    def __init__(self):
        self.routes = {}
        routes = self.routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path not in routes:
                    self.send_error(404, "not here")
                    return
                body, length = routes[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(length if length is not None else len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep test output quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 5
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def serve(self, path, body, length=None):
        self.routes[path] = (body, length)
        return self.url + path

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def archive_tools():
    """The helpers that build archives by hand: .pickle_batch(data, labels), .write_tar(path, members)."""
    class Tools:
        pass
    tools = Tools()
    tools.pickle_batch, tools.write_tar = staticmethod(pickle_batch), staticmethod(write_tar)
    return tools


@pytest.fixture
def http_server(monkeypatch):
    """A local HTTP server; downloads time out after 5 s instead of 30 so a hang cannot stall CI."""
    from tinydl.datasets import _download
    monkeypatch.setattr(_download, "TIMEOUT", 5.0)
    server = _Server()
    yield server
    server.stop()


@pytest.fixture
def official_md5(monkeypatch):
    """set(md5): make ``md5`` the official checksum for one test."""
    return lambda md5: monkeypatch.setattr(cifar10, "MD5", md5)
