"""CIFAR-10: 60,000 32x32 colour images in 10 classes (Krizhevsky, 2009).

    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    x_*: uint8 (N, 3, 32, 32) NCHW, y_*: int64 (N,)

Where the data comes from, in order:
    1. the cache  <root>/cifar10.npz, written by an earlier call (fast: one np.load)
    2. the archive  <root>/cifar-10-python.tar.gz, or the one given as ``archive=``
    3. a download of ``URL`` to <root>/cifar-10-python.tar.gz (when ``download=True``)
<root> is ``data_dir``, else $TINYDL_HOME/datasets, else ~/.tinydl/datasets.

The archive ("python version" on the CIFAR page) holds cifar-10-batches-py/data_batch_1..5 and
test_batch: pickled dicts with bytes keys, b"data" a (rows, 3072) uint8 array (each row the R, G
and B planes of one image, each plane 32x32 row-major) and b"labels" a list of ints. So row n
reshapes straight to NCHW: data[n, c*1024 + h*32 + w] is x[n, c, h, w].

The pickles are read with an unpickler that only builds NumPy arrays, lists, dicts and bytes:
unpickling a file from the internet with plain ``pickle.load`` would run any code it names.
Before that, every size a member declares (its tar header, each pickle opcode's length) is
checked against the bytes really there, so a forged header cannot ask for a terabyte.

The cache is trusted only as far as it checks out: the archive's md5, then uint8 images
(N, 3, 32, 32), int64 labels (N,) inside [0, 10). A cache that fails is rebuilt from the archive
(or, with no archive, reported as damaged); a folder where no cache can be written still loads
from the archive, with a warning.
"""
import codecs
import io
import os
import pickle
import pickletools
import tarfile
import warnings
import zlib
from pathlib import Path

import numpy as np

from tinydl._io import atomic_open
from tinydl.datasets import _download
from tinydl.datasets._download import ChecksumError, DownloadError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
FILENAME = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_MEMBERS = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_MEMBERS = ("test_batch",)
CACHE_NAME = "cifar10.npz"
MAX_MEMBER_BYTES = 64 << 20   # an official batch pickle is 31 MB: a larger declared size is forged

LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# per-channel statistics of the training images scaled to [0, 1] (the DataLoader's normalize="cifar10")
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)

__all__ = ["load_data", "label_names", "LABEL_NAMES", "MEAN", "STD", "URL", "MD5",
           "ChecksumError", "DownloadError"]


def label_names() -> list[str]:
    """The class names, indexed by label."""
    return list(LABEL_NAMES)


def dataset_dir(data_dir=None) -> Path:
    """Where datasets are kept: ``data_dir``, else $TINYDL_HOME/datasets, else ~/.tinydl/datasets."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    home = os.environ.get("TINYDL_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".tinydl"
    return base / "datasets"


def load_data(data_dir=None, download: bool = True, archive=None, verify: bool = True, url: str | None = None):
    """Return ``(x_train, y_train), (x_test, y_test)``: uint8 (N, 3, 32, 32) and int64 (N,).

    data_dir: folder of the cache and the downloaded archive (see the module docstring).
    download: fetch ``url`` (default ``cifar10.URL``) when there is neither cache nor archive.
    archive:  path of a local cifar-10-python.tar.gz to read instead of downloading.
    verify:   check the archive's md5 against the official one (``cifar10.MD5``); a small
              archive made for tests passes ``verify=False``.
    """
    root = dataset_dir(data_dir)
    cache = root / CACHE_NAME
    if archive is None:
        # 1. a cache made from the official archive
        arrays, problem = _read_cache(cache, MD5)
        if arrays is not None:
            return arrays
        archive = root / FILENAME
        if not archive.exists():
            if not download:
                state = f"the cache {cache} is {problem}" if problem else f"no cache at {cache}"
                raise FileNotFoundError(
                    f"CIFAR-10 is not here: {state}, no archive at {archive}, "
                    f"and download=False. Download {url or URL} (md5 {MD5}) and put it at {archive}, "
                    "pass archive='path/to/cifar-10-python.tar.gz', or call with download=True."
                )
            # 3. download (atomically; the md5 is checked before the file gets its final name)
            try:
                _download.fetch(url or URL, archive, md5=MD5 if verify else None)
            except DownloadError as e:
                raise DownloadError(
                    f"{e}. Without network access, download the archive by hand and put it at "
                    f"{archive}, or pass archive='path/to/cifar-10-python.tar.gz'."
                ) from e
    archive = Path(archive).expanduser()
    if not archive.is_file():
        raise FileNotFoundError(f"archive must be an existing file; received archive={str(archive)!r}")
    # 2. the archive: checked, then a cache made from it is reused if there is one
    digest = _download.file_md5(archive)
    if verify:
        _download.check_md5(
            archive, MD5, digest,
            advice=f"delete it and download {URL} again (or pass verify=False for a hand-made archive)",
        )
    arrays, _ = _read_cache(cache, digest)
    if arrays is None:
        arrays = _read_archive(archive)
        _write_cache(cache, arrays, digest)
    return arrays


# ---------------------------------------------------------------------------------------------
# the archive


# the functions NumPy's own pickles name to rebuild an array (found the same way on NumPy 1 and 2)
_RECONSTRUCT = np.zeros(1).__reduce__()[0]       # numpy.core.multiarray._reconstruct (protocol <= 4)
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]    # numpy.core.numeric._frombuffer (protocol 5)


class _ArrayUnpickler(pickle.Unpickler):
    """Builds only what the CIFAR pickles hold: NumPy arrays, dicts, lists, bytes, ints.
    Anything else (os.system, ...) is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,  # the official archive (Python 2)
        ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
        ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,                    # bytes pickled by Python 3, protocol 2
    }

    def find_class(self, module, name):
        found = self._ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 pickle")
        return found


def _check_declared_sizes(raw: bytes, member: str) -> None:
    """Walk the pickle's opcodes (no object is built): a length that runs past the end of the
    member (a forged 1 TiB bytes8, say) is refused here, before anything is allocated for it."""
    try:
        for _ in pickletools.genops(raw):
            pass
    except ValueError as e:
        raise ValueError(f"{member}: the pickle declares more data than the member's "
                         f"{len(raw):,} bytes hold ({e})") from None


def _unpickle(raw: bytes, member: str) -> tuple[np.ndarray, np.ndarray]:
    """(data uint8 (rows, 3072), labels int64 (rows,)) from one pickled batch."""
    _check_declared_sizes(raw, member)
    batch = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{member} must be a dict with keys b'data' and b'labels'; received {keys}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{member}: b'data' must be uint8 of shape (rows, 3072); "
                         f"received {data.dtype} of shape {data.shape}")
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{member}: b'labels' must be {data.shape[0]} integers (one per row); "
                         f"received {labels.dtype} of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(LABEL_NAMES)):
        raise ValueError(f"{member}: labels must be in [0, {len(LABEL_NAMES)}); "
                         f"received values in [{labels.min()}, {labels.max()}]")
    return data, labels.astype(np.int64)


def _read_archive(path: Path):
    """Stream through the tar once, unpickle the six batches, stack them into NCHW arrays."""
    wanted = {f"{FOLDER}/{m}": m for m in TRAIN_MEMBERS + TEST_MEMBERS}
    raw = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for info in tar:
                name = info.name[2:] if info.name.startswith("./") else info.name
                if name in wanted and info.isfile():
                    if info.size > MAX_MEMBER_BYTES:
                        raise ValueError(f"{path}: member {name} declares {info.size:,} bytes; a "
                                         f"CIFAR-10 batch is about 31 MB (at most {MAX_MEMBER_BYTES:,} "
                                         "accepted): the archive is damaged or forged")
                    raw[wanted[name]] = tar.extractfile(info).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise ValueError(
            f"{path} is not a readable CIFAR-10 archive (truncated or corrupt: {e}). "
            f"Delete it and download {URL} again."
        ) from e
    missing = [f"{FOLDER}/{m}" for m in TRAIN_MEMBERS + TEST_MEMBERS if m not in raw]
    if missing:
        raise ValueError(f"{path} is missing the member(s) {', '.join(missing)}: "
                         "it is not the CIFAR-10 python archive, or it is incomplete.")
    try:
        parts = {m: _unpickle(raw[m], m) for m in TRAIN_MEMBERS + TEST_MEMBERS}
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"{path} holds a batch that cannot be read: {e}") from e

    def stack(members):
        data = np.concatenate([parts[m][0] for m in members])
        labels = np.concatenate([parts[m][1] for m in members])
        # each row: R, G, B planes of 32x32, row-major -> (rows, 3, 32, 32) with no copy of pixels moved
        return np.ascontiguousarray(data.reshape(-1, 3, 32, 32)), labels

    return stack(TRAIN_MEMBERS), stack(TEST_MEMBERS)


# ---------------------------------------------------------------------------------------------
# the cache: one .npz, written to a temporary file and renamed, tagged with its archive's md5


def _read_cache(path: Path, source_md5: str):
    """``(arrays, None)`` when the cache at ``path`` was made from the archive with
    ``source_md5`` and holds well-formed CIFAR-10 arrays; else ``(None, problem)``, problem None
    when there is no cache and a phrase ("damaged: ...", "made from another archive") otherwise.
    A cache that fails any check is never returned: it is rebuilt from the archive."""
    if not path.is_file():
        return None, None
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["source_md5"]) != source_md5:
                return None, "made from another archive"
            arrays = tuple(f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    except Exception as e:  # noqa: BLE001 - any damage to the cache means: rebuild it
        return None, f"damaged ({type(e).__name__}: {e})"
    problem = _cache_problem(*arrays)
    if problem:
        return None, f"damaged ({problem})"
    x_train, y_train, x_test, y_test = arrays
    return ((x_train, y_train), (x_test, y_test)), None


def _cache_problem(x_train, y_train, x_test, y_test) -> str | None:
    """What is wrong with the cached arrays, or None: images uint8 (N, 3, 32, 32), labels
    int64 (N,) in [0, 10)."""
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (3, 32, 32):
            return f"x_{split} must be uint8 (N, 3, 32, 32); it is {x.dtype} {x.shape}"
        if y.dtype != np.int64 or y.shape != (x.shape[0],):
            return f"y_{split} must be int64 ({x.shape[0]},); it is {y.dtype} {y.shape}"
        if y.size and (y.min() < 0 or y.max() >= len(LABEL_NAMES)):
            return f"y_{split} must lie in [0, {len(LABEL_NAMES)}); it holds [{y.min()}, {y.max()}]"
    return None


def _write_cache(path: Path, arrays, source_md5: str) -> None:
    """Write the cache atomically; a folder that cannot take it (read-only) only warns."""
    (x_train, y_train), (x_test, y_test) = arrays
    try:
        with atomic_open(path, "wb", suffix=".npz") as f:
            np.savez(f, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                     source_md5=np.array(source_md5))
    except OSError as e:
        warnings.warn(f"could not write the CIFAR-10 cache {path} ({e.strerror or e}): loaded from "
                      "the archive, and every later call reads the archive again (slower). Pass a "
                      "writable data_dir to keep a cache.", RuntimeWarning, stacklevel=3)
