"""No writable Numba cache folder: kernels compile in memory, with one warning (issue 9, item 17)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import warnings
import numpy as np
with warnings.catch_warnings(record=True) as rec:
    warnings.simplefilter("always")
    from tinydl import ops
    out, _ = ops.relu_forward(np.array([-1.0, 2.0]))
    y, _ = ops.dense_forward(np.ones((2, 3)), np.ones((3, 4)), None)
hits = [str(w.message) for w in rec if "nowhere to cache" in str(w.message)]
print("RESULT", out.tolist(), float(y.sum()), len(hits))
print("MESSAGE", hits[0] if hits else "")
"""


def _run(root, env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CACHE")}
    env.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", **env_extra)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)


def test_no_cache_locator_falls_back_to_compiling_in_memory_with_one_warning():
    # Numba's own switch for the locators it tries: only the NUMBA_CACHE_DIR one, with no
    # NUMBA_CACHE_DIR set, is exactly "nowhere writable" (and works when the tests run as root)
    res = _run(REPO, {"NUMBA_CACHE_LOCATOR_CLASSES": "UserProvidedCacheLocator"})
    assert res.returncode == 0, res.stderr[-3000:]
    assert "RESULT [0.0, 2.0] 24.0 1" in res.stdout, res.stdout + res.stderr[-2000:]
    assert "no locator available" in res.stdout and "NUMBA_CACHE_DIR" in res.stdout


def test_other_packages_keep_numbas_error():
    code = ("from numba import njit\n"
            "import tinydl.kernels.cpu\n"
            "try:\n    njit(cache=True)(lambda x: x)\nexcept RuntimeError as e:\n    print('RAISED', e)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CACHE")}
    env.update(PYTHONPATH=str(REPO), NUMBA_CACHE_LOCATOR_CLASSES="UserProvidedCacheLocator")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300)
    assert "RAISED cannot cache function" in res.stdout, res.stdout + res.stderr[-2000:]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_install_and_home(tmp_path):
    copy = tmp_path / "install"
    ignore = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    for d in ("tinydl", "kernels", "datasets"):
        shutil.copytree(REPO / d, copy / d, ignore=ignore)
    home = tmp_path / "home"
    home.mkdir()
    for p in [copy, home, *copy.rglob("*")]:
        if p.is_dir():
            p.chmod(0o555)
    try:
        res = _run(copy, {"HOME": str(home)})
    finally:
        for p in [copy, home, *copy.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "RESULT [0.0, 2.0] 24.0 1" in res.stdout, res.stdout + res.stderr[-2000:]


# -- a kernel's cache goes stale with any file of its tree --------------------------------------
STALE_PROBE = """
import os, sys
root = sys.argv[1]
sys.path.insert(0, root)
from tinydl.kernels.cpu import _cache_fallback
_cache_fallback._ROOTS = (root + os.sep,) if sys.argv[2] == "fix" else ()
import caller
print("RESULT", caller.f())
"""


def _stale_probe(root, fix):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CACHE")}
    env.update(PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    res = subprocess.run([sys.executable, "-c", STALE_PROBE, str(root), fix], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout.split("RESULT ")[1].strip()


@pytest.mark.parametrize("fix,after_edit", [("fix", "2"), ("numba-only", "1")])
def test_an_edited_helper_invalidates_its_callers_cache(tmp_path, fix, after_edit):
    # caller.f compiles helper.g into its own machine code, and Numba's cache checks only
    # caller.py: with Numba's stamp alone the edited helper's old value comes back from the
    # cache ("numba-only": the bug, shown), with the tree's stamp it is recompiled
    (tmp_path / "helper.py").write_text("from numba import njit\n\n@njit(cache=True)\ndef g():\n    return 1\n")
    (tmp_path / "caller.py").write_text("from numba import njit\nfrom helper import g\n\n"
                                        "@njit(cache=True)\ndef f():\n    return g()\n")
    assert _stale_probe(tmp_path, fix) == "1"
    (tmp_path / "helper.py").write_text("from numba import njit\n\n@njit(cache=True)\ndef g():\n    return 22 // 11\n")
    assert _stale_probe(tmp_path, fix) == after_edit


def test_the_tree_stamp_follows_contents(tmp_path, monkeypatch):
    from tinydl.kernels.cpu import _cache_fallback
    monkeypatch.setattr(_cache_fallback, "_stamps", {})
    (tmp_path / "a.py").write_text("x = 1\n")
    first = _cache_fallback.tree_stamp(str(tmp_path))
    _cache_fallback._stamps.clear()
    (tmp_path / "a.py").write_text("x = 2\n")
    assert _cache_fallback.tree_stamp(str(tmp_path)) != first
    kernel = __import__("tinydl.kernels.cpu._blas", fromlist=["gemm_block"]).gemm_block
    stamp = kernel._cache._cache_file._source_stamp
    assert stamp[1] == _cache_fallback.tree_stamp(_cache_fallback._kernel_root(kernel.py_func))
