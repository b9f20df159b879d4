"""kernels/cpu/_blas.py: matrix products split over Numba's threads, one BLAS call per thread.

Every layout the kernels pass (row- and column-major operands, blocks of rows or columns, an
output block of a larger array), both precisions, the split and unsplit paths, and a kernel that
calls it loaded from Numba's on-disk cache in a fresh process.
"""
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from tinydl.kernels.cpu import _blas

REPO = Path(__file__).resolve().parents[2]
SHAPES = [(1, 1, 1), (1, 9, 4), (5, 1, 1), (7, 5, 3), (3, 5, 200), (64, 144, 196), (256, 784, 512),
          (300, 64, 2)]


def _operands(rng, m, k, n, dtype):
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    return a, b


def _layouts(x):
    # the same matrix C-ordered, F-ordered (a transposed view's layout) and as a strided block
    wide = np.zeros((x.shape[0], x.shape[1] + 3), dtype=x.dtype)
    wide[:, 1:1 + x.shape[1]] = x
    return [x, np.asfortranarray(x), wide[:, 1:1 + x.shape[1]]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", SHAPES)
def test_gemm_into_matches_numpy_in_every_layout(m, k, n, dtype):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a, b = _operands(rng, m, k, n, dtype)
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-4 * max(1, k) if dtype == np.float32 else 1e-12 * max(1, k)
    # C with C, F with F, blocks with blocks, and F with C (a transposed view times a matrix)
    pairs = [(a, b), *zip(_layouts(a)[1:], _layouts(b)[1:], strict=True), (np.asfortranarray(a), b)]
    for a_, b_ in pairs:
        out = np.full((m, n), np.nan, dtype=dtype)
        _blas.gemm_into(a_, b_, out)
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol)
        np.testing.assert_allclose(_blas.gemm(a_, b_), want, rtol=tol, atol=tol)


def test_gemm_into_writes_only_its_output_block():
    rng = np.random.default_rng(1)
    a, b = _operands(rng, 96, 40, 80, np.float64)
    big = np.full((100, 90), 7.0)
    _blas.gemm_into(a, b, big[2:98, 5:85])
    np.testing.assert_allclose(big[2:98, 5:85], a @ b, rtol=1e-12, atol=1e-12)
    big[2:98, 5:85] = 7.0
    assert np.all(big == 7.0)


def test_gemm_block_accumulates_with_beta_one():
    rng = np.random.default_rng(2)
    a, b = _operands(rng, 6, 4, 5, np.float64)
    out = np.ones((6, 5))
    _blas.gemm_block(a, b, out, 1.0)
    np.testing.assert_allclose(out, 1.0 + a @ b, rtol=1e-12)


def test_operands_that_blas_cannot_take_are_copied():
    # reversed rows (a negative stride) and every other column: neither rows nor columns contiguous
    rng = np.random.default_rng(3)
    a = rng.standard_normal((8, 12))
    b = rng.standard_normal((6, 5))
    np.testing.assert_allclose(_blas.gemm(a[::-1, ::2], b), a[::-1, ::2] @ b, rtol=1e-12)


def test_mixed_precisions_are_refused():
    with pytest.raises(ValueError, match="one dtype"):
        _blas.gemm_into(np.ones((2, 2), np.float32), np.ones((2, 2)), np.empty((2, 2), np.float32))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("bsz,m,k,n", [(1, 3, 4, 5), (256, 65, 16, 65), (3, 70, 70, 70)])
def test_bmm_matches_numpy_with_transposed_views(bsz, m, k, n, threads):
    rng = np.random.default_rng(bsz + m)
    a = rng.standard_normal((bsz, m, k)).astype(np.float32)
    bt = rng.standard_normal((bsz, n, k)).astype(np.float32)     # b as a transposed view
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        got = _blas.bmm(a, bt.transpose(0, 2, 1))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_allclose(got, np.matmul(a, bt.transpose(0, 2, 1)), rtol=1e-4, atol=1e-4)


def test_one_thread_gives_the_same_product():
    rng = np.random.default_rng(4)
    a, b = _operands(rng, 128, 96, 160, np.float64)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one = _blas.gemm(a, b)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_allclose(one, a @ b, rtol=1e-12)


def test_scipys_blas_runs_one_thread_per_call():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import tinydl
    assert tinydl.BLAS in ("one-thread", "one-thread-after-load", "user")
    if tinydl.BLAS != "user":
        scipy_libs = [i for i in threadpoolctl.threadpool_info()
                      if i["internal_api"] == "openblas" and "openblas64" not in i["filepath"]]
        assert scipy_libs and all(i["num_threads"] == 1 for i in scipy_libs)


@pytest.mark.parametrize("scipy_first", [False, True])
def test_scipys_blas_is_limited_even_when_it_loaded_first(scipy_first):
    pytest.importorskip("threadpoolctl")
    pre = "import scipy.linalg; " if scipy_first else ""
    code = (f"{pre}import tinydl, threadpoolctl; print(tinydl.BLAS, [i['num_threads'] for i in "
            "threadpoolctl.threadpool_info() if 'libscipy_openblas-' in i['filepath']])")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=300, check=True).stdout.split()
    assert out == ["one-thread-after-load" if scipy_first else "one-thread", "[1]"]


def test_a_cached_kernel_calling_gemm_runs_in_a_fresh_process(tmp_path):
    # the second process loads gemm_into from the on-disk cache before any parallel region ran:
    # the thread pool's C functions must already be registered with the linker (it crashed
    # before). Each process's first product of each precision is split over the threads: _blas
    # resolved both BLAS functions when it loaded (a worker that got there first would wait for
    # the GIL its caller holds; a race this test exercises but cannot force)
    code = ("import numpy as np; from tinydl.kernels.cpu import _blas; "
            "a = np.arange(90000.0).reshape(300, 300) % 7; b = np.ones((300, 300)); "
            "print(float(_blas.gemm(a, b).sum()), "
            "float(_blas.gemm(a.astype(np.float32), b.astype(np.float32)).sum(dtype=np.float64)))")
    assert 300 ** 3 >= _blas.SPLIT_FROM
    want = float((np.arange(90000.0).reshape(300, 300) % 7).sum() * 300)
    env = {**os.environ, "PYTHONPATH": str(REPO), "NUMBA_CACHE_DIR": str(tmp_path)}
    for _ in range(2):
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        assert res.stdout.split() == [str(want)] * 2
