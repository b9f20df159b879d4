"""Downloading a file safely: a progress bar, a ``.part`` file, an md5 check, an atomic rename.

    fetch(url, dest, md5)
        1. stream the body into ``dest.<random>.part`` (a name of its own: two downloads into one
           folder never write into each other's file), feeding an md5 and a progress bar (stderr)
        2. check the byte count against Content-Length (a dropped connection is an error)
        3. check the md5 when one is expected
        4. os.replace(part, dest): ``dest`` exists only when it is complete and checked
    On any failure (including Ctrl-C) the ``.part`` file is removed, so a failed download never
    leaves behind something that breaks the next one.
"""
import hashlib
import http.client
import os
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT = 30.0            # seconds without a byte before a download gives up
CHUNK = 1 << 16


class DownloadError(OSError):
    """The file could not be fetched (no network, refused, dropped mid-way, HTTP error)."""


class ChecksumError(ValueError):
    """A file's md5 is not the expected one."""


def file_md5(path, chunk: int = 1 << 20) -> str:
    """The hex md5 of the file at ``path``."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def check_md5(path, expected: str, got: str | None = None, advice: str | None = None) -> str:
    """Raise ChecksumError naming ``expected`` and the md5 found; return the md5.
    ``got`` is the md5 when already known (a download computes it on the fly)."""
    got = got or file_md5(path)
    if got != expected:
        advice = advice or "delete it and download it again"
        raise ChecksumError(
            f"checksum mismatch for {path}: expected md5 {expected}, got {got}. "
            f"The file is corrupt, truncated or not the expected one: {advice}."
        )
    return got


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} GB"


class _Progress:
    """A one-line progress bar on stderr, redrawn at most every 0.2 s, ended by a newline."""

    def __init__(self, name: str, total: int | None, enabled: bool = True):
        self.name, self.total, self.enabled = name, total, enabled
        self.done, self.last = 0, 0.0
        self.start = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self.last >= 0.2:
            self.last = now
            self._draw(end="")

    def close(self) -> None:
        if self.enabled:
            self._draw(end="\n")

    def _draw(self, end: str) -> None:
        rate = self.done / max(time.monotonic() - self.start, 1e-6)
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
            text = f"{self.name} [{bar}] {100 * frac:3.0f}% {_human(self.done)}/{_human(self.total)}"
        else:
            text = f"{self.name} {_human(self.done)}"
        stream = sys.stderr  # looked up each time so that redirection (and pytest's capsys) sees it
        stream.write(f"\r{text} {_human(rate)}/s" + end)
        stream.flush()


def fetch(url: str, dest, md5: str | None = None, progress: bool = True, timeout: float | None = None) -> Path:
    """Download ``url`` to ``dest`` (see the module docstring); return ``dest`` as a Path.
    ``timeout``: seconds without data before giving up (default: the module's TIMEOUT)."""
    timeout = TIMEOUT if timeout is None else timeout
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    os.close(fd)
    part = Path(name)
    digest = hashlib.md5()
    try:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                bar = _Progress(f"downloading {dest.name}", total, progress)
                with open(part, "wb") as f:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        f.write(block)
                        digest.update(block)
                        bar.update(len(block))
                bar.close()
        except urllib.error.HTTPError as e:
            raise DownloadError(f"could not download {url}: HTTP {e.code} {e.reason}") from e
        except (urllib.error.URLError, http.client.HTTPException, socket.timeout, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise DownloadError(f"could not download {url}: {reason}") from e
        if total is not None and bar.done != total:
            raise DownloadError(
                f"could not download {url}: the connection closed after {bar.done} of {total} bytes"
            )
        if md5 is not None:
            check_md5(url, md5, digest.hexdigest(), advice="nothing was kept; try again")
        os.replace(part, dest)
    finally:
        if part.exists():  # anything that stopped us before the rename: leave no .part behind
            part.unlink()
    return dest
