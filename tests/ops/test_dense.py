"""Dense: every device and version against the reference, finite differences, PyTorch parity,
the lesson plan's version list, bad input."""
import re

import numpy as np
import pytest
from helpers import assert_close, kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("dense")
DTYPES = [np.float32, np.float64]


@pytest.fixture
def no_kernel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was reached before the input was checked")
    monkeypatch.setattr(tinydl.device, "backend", refuse)


def _pass(x, w, b, dout):
    out, cache = ops.dense_forward(x, w, b)
    return (out, *ops.dense_backward(dout, cache))


def _compare(dev, version, x, w, b, dout):
    with on(dev, "dense", version):
        got = _pass(x, w, b, dout)
    with on("reference"):
        want = _pass(x, w, b, dout)
    for name, g, e in zip(("out", "dx", "dw", "db"), got, want, strict=True):
        if e is None:
            assert g is None, name
            continue
        assert g.shape == e.shape and g.dtype == e.dtype, name
        assert_close(g, e)
    return got


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape,units", [((1, 7), 5), ((33, 13), 7), ((2, 3, 5), 4), ((3, 1, 2, 9), 1)])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_reference(dev, version, dtype, xshape, units, bias, rng):
    x = rng.standard_normal(xshape).astype(dtype)
    w = rng.standard_normal((xshape[-1], units)).astype(dtype)
    b = rng.standard_normal(units).astype(dtype) if bias else None
    dout = rng.standard_normal(xshape[:-1] + (units,)).astype(dtype)
    out, dx, dw, db = _compare(dev, version, x, w, b, dout)
    assert out.shape == xshape[:-1] + (units,) and dx.shape == xshape and dw.shape == w.shape
    for g in (dx, dw, db):   # gradients are fresh arrays
        assert g is None or not (np.shares_memory(g, x) or np.shares_memory(g, w) or np.shares_memory(g, dout))


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_noncontiguous_inputs(dev, version, dtype, rng):
    x = rng.standard_normal((13, 33)).astype(dtype).T          # (33, 13) transposed view
    w = rng.standard_normal((7, 26)).astype(dtype)[:, ::2].T   # (13, 7) strided + transposed
    b = rng.standard_normal(14).astype(dtype)[::2]
    dout = rng.standard_normal((7, 33)).astype(dtype).T
    out, dx, dw, db = _compare(dev, version, x, w, b, dout)
    assert_close(out, np.asarray(x) @ np.asarray(w) + b)


@pytest.mark.parametrize("dev,version", CASES)
def test_large_values_stay_exact_enough(dev, version, rng):
    x = rng.standard_normal((9, 11)) * 1e4
    w = rng.standard_normal((11, 6)) * 1e4
    _compare(dev, version, x, w, rng.standard_normal(6), rng.standard_normal((9, 6)))


def test_hand_worked_values():
    x = np.array([[1.0, 2.0]])
    w = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]])
    b = np.array([1.0, 1.0, 1.0])
    for dev in ("reference", "cpu"):
        with td.device.using(dev):
            out, cache = ops.dense_forward(x, w, b)
            np.testing.assert_array_equal(out, [[2.0, 3.0, 9.0]])
            dx, dw, db = ops.dense_backward(np.array([[1.0, 0.0, 1.0]]), cache)
            np.testing.assert_array_equal(dx, [[3.0, 3.0]])          # rows of w dotted with dout
            np.testing.assert_array_equal(dw, [[1, 0, 1], [2, 0, 2]])  # x^T dout
            np.testing.assert_array_equal(db, [1, 0, 1])


@pytest.mark.parametrize("xshape", [(3, 4), (2, 3, 5)])
def test_finite_differences_on_reference(xshape, rng):
    x = rng.standard_normal(xshape)
    w = rng.standard_normal((xshape[-1], 3))
    b = rng.standard_normal(3)
    with on("reference"):
        assert td.gradcheck((ops.dense_forward, ops.dense_backward), [x, w, b], atol=1e-8, rtol=1e-7)


def test_no_bias_equals_zero_bias(rng):
    x, w = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    dout = rng.standard_normal((4, 3))
    with on("reference"):
        a = _pass(x, w, None, dout)
        z = _pass(x, w, np.zeros(3), dout)
    for g, e in zip(a[:3], z[:3], strict=True):
        np.testing.assert_array_equal(g, e)
    assert a[3] is None


@pytest.mark.parametrize("dev,version", CASES + [pytest.param("reference", None, id="reference")])
def test_torch_parity(dev, version, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 5))
    w = rng.standard_normal((5, 4))
    b = rng.standard_normal(4)
    dout = rng.standard_normal((2, 3, 4))
    with on(dev, "dense", version):
        out, dx, dw, db = _pass(x, w, b, dout)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tout = torch.nn.functional.linear(tx, tw.T, tb)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in ((dx, tx), (dw, tw), (db, tb)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_versions_table_matches_lesson_plan():
    from tinydl.kernels.cpu import dense
    listed = sorted(int(v) for v in re.findall(r"^v(\d+) ", dense.__doc__, flags=re.M))
    assert listed == sorted(dense.VERSIONS)
    assert dense.DEFAULT in dense.VERSIONS
    for fns in dense.VERSIONS.values():
        assert set(fns) == {"dense_forward", "dense_backward"}


@pytest.mark.parametrize("call, error, words", [
    (lambda: ops.dense_forward(np.ones((2, 3)), np.ones((4, 5)), None), ValueError, ["(3, units)", "(4, 5)"]),
    (lambda: ops.dense_forward(np.ones(3), np.ones((3, 5)), None), ValueError, ["at least 2 axes", "(3,)"]),
    (lambda: ops.dense_forward(np.ones((2, 3)), np.ones(3), None), ValueError, ["2-D", "(3,)"]),
    (lambda: ops.dense_forward(np.ones((2, 3)), np.ones((3, 5)), np.ones(4)), ValueError, ["(5,)", "(4,)"]),
    (lambda: ops.dense_forward(np.ones((2, 3)), np.ones((3, 5), np.float32), None), TypeError, ["float64", "float32"]),
    (lambda: ops.dense_forward(np.ones((2, 3)), np.ones((3, 5)), np.ones(5, np.float32)), TypeError, ["float64", "float32"]),
])
def test_bad_forward_input_is_refused_before_any_kernel(no_kernel, call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value)


def test_bad_backward_input_is_refused_before_any_kernel(monkeypatch):
    x, w = np.ones((2, 3)), np.ones((3, 5))
    _, cache = ops.dense_forward(x, w, None)
    monkeypatch.setattr(tinydl.device, "backend", lambda *a, **k: pytest.fail("kernel reached"))
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(5, 2\)"):
        ops.dense_backward(np.ones((5, 2)), cache)
    with pytest.raises(TypeError, match="float64.*float32"):
        ops.dense_backward(np.ones((2, 5), np.float32), cache)
    with pytest.raises(TypeError, match="cache returned by dense_forward"):
        ops.dense_backward(np.ones((2, 5)), ("x", "w"))


def test_integer_input_is_cast_to_float32():
    out, _ = ops.dense_forward(np.arange(6).reshape(2, 3), np.ones((3, 2), np.float32), None)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[3, 3], [12, 12]])
