"""Elementwise helpers: every device against the reference, hand-worked values, bad input."""
import numpy as np
import pytest
from helpers import assert_close, kernel_cases, on

import tinydl.device
from tinydl import ops

CASES = kernel_cases("elementwise")
DTYPES = [np.float32, np.float64]
SHAPES = [(1, 7), (33, 13), (2, 3, 5)]


@pytest.fixture
def no_kernel(monkeypatch):
    """Any kernel lookup fails: a bad-input error must come before it."""
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was reached before the input was checked")
    monkeypatch.setattr(tinydl.device, "backend", refuse)


def _run(dev, version, fn, *args):
    with on(dev, "elementwise", version):
        return fn(*args)


def _ref(fn, *args):
    with on("reference"):
        return fn(*args)


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_add_accumulate_scale_match_reference(dev, version, dtype, shape, rng):
    a = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape).astype(dtype)
    out = _run(dev, version, ops.add, a, b)
    assert out.dtype == dtype and out is not a and out is not b
    assert_close(out, _ref(ops.add, a, b))
    d1, d2 = a.copy(), a.copy()
    _run(dev, version, ops.accumulate, d1, b)
    _ref(ops.accumulate, d2, b)
    assert_close(d1, d2)
    assert_close(d1, a + b)
    _run(dev, version, ops.scale_, d1, 0.37)
    _ref(ops.scale_, d2, 0.37)
    assert_close(d1, d2)
    assert d1.dtype == dtype


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_noncontiguous_sources(dev, version, dtype, rng):
    a = rng.standard_normal((13, 33)).astype(dtype).T          # (33, 13), a transposed view
    b = rng.standard_normal((33, 26)).astype(dtype)[:, ::2]    # (33, 13), a strided view
    assert_close(_run(dev, version, ops.add, a, b), np.asarray(a) + b)
    dst = np.ones((33, 13), dtype=dtype)
    _run(dev, version, ops.accumulate, dst, a)
    assert_close(dst, 1 + a)
    assert _run(dev, version, ops.sum_squares, a) == pytest.approx(float(np.sum(a.astype(np.float64) ** 2)), rel=1e-12)


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (5, 7), (3, 5, 7), (), (2, 3, 5, 7)])
def test_sum_to(dev, version, dtype, shape, rng):
    x = rng.standard_normal((2, 3, 5, 7)).astype(dtype)
    out = _run(dev, version, ops.sum_to, x, shape)
    assert out.shape == shape and out.dtype == dtype
    axes = tuple(range(x.ndim - len(shape)))
    assert_close(out, x.sum(axis=axes, dtype=np.float64).astype(dtype))
    assert_close(out, _ref(ops.sum_to, x, shape))
    if shape == x.shape:
        assert out is not x


@pytest.mark.parametrize("dev,version", CASES)
def test_sum_to_many_rows_float32(dev, version, rng):
    # 20,000 rows: the float64 accumulation keeps float32 sums at reference accuracy
    x = rng.standard_normal((20000, 70)).astype(np.float32)
    assert_close(_run(dev, version, ops.sum_to, x, (70,)), x.astype(np.float64).sum(axis=0).astype(np.float32))


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_squares(dev, version, dtype, rng):
    assert _run(dev, version, ops.sum_squares, np.array([3.0, 4.0], dtype=dtype)) == 25.0
    a = rng.standard_normal((33, 13)).astype(dtype)
    got = _run(dev, version, ops.sum_squares, a)
    assert isinstance(got, float)
    assert got == pytest.approx(_ref(ops.sum_squares, a), rel=1e-12)


def test_hand_worked_values():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(ops.add(a, a), [[2, 4], [6, 8]])
    np.testing.assert_array_equal(ops.sum_to(a, (2,)), [4, 6])
    np.testing.assert_array_equal(ops.sum_to(a, ()), 10)
    ops.scale_(a, 0.5)
    np.testing.assert_array_equal(a, [[0.5, 1], [1.5, 2]])


def test_integer_input_becomes_float32():
    out = ops.add(np.arange(3), np.arange(3))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [0, 2, 4])


@pytest.mark.parametrize("call, error, words", [
    (lambda: ops.add(np.ones((2, 3)), np.ones((3, 2))), ValueError, ["(2, 3)", "(3, 2)"]),
    (lambda: ops.add(np.ones(3), np.ones(3, np.float32)), TypeError, ["float64", "float32"]),
    (lambda: ops.add(np.ones(3), np.array(["a", "b", "c"])), TypeError, ["float32", "<U1"]),
    (lambda: ops.accumulate(np.ones((4, 3)).T, np.ones((3, 4))), ValueError, ["C-contiguous", "(3, 4)"]),
    (lambda: ops.accumulate(np.ones(3), np.ones(4)), ValueError, ["(3,)", "(4,)"]),
    (lambda: ops.accumulate(np.ones(3, np.int64), np.ones(3)), TypeError, ["float32 or float64", "int64"]),
    (lambda: ops.accumulate([1.0, 2.0], np.ones(2)), TypeError, ["array", "list"]),
    (lambda: ops.scale_(np.ones(3), float("nan")), ValueError, ["s must", "nan"]),
    (lambda: ops.sum_to(np.ones((2, 3)), (2,)), ValueError, ["(2, 3)", "(2,)"]),
    (lambda: ops.sum_to(np.ones((2, 3)), (1, 2, 3)), ValueError, ["(2, 3)", "(1, 2, 3)"]),
    (lambda: ops.sum_to(np.ones((2, 3)), "E"), ValueError, ["tuple of ints", "'E'"]),
])
def test_bad_input_is_refused_before_any_kernel(no_kernel, call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value)


def test_read_only_destination_is_refused(no_kernel):
    a = np.ones(3)
    a.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        ops.scale_(a, 2.0)
