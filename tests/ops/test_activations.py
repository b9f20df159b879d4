"""Activations: every device against the reference, outliers, finite differences, hand-worked
values, PyTorch parity, bad input."""
import math

import numpy as np
import pytest
from helpers import assert_close, kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("activations")
DTYPES = [np.float32, np.float64]
# (name, forward kwargs)
ACTS = [("relu", {}), ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.01}), ("sigmoid", {}),
        ("tanh", {}), ("gelu", {}), ("softmax", {}), ("softmax", {"axis": 0}), ("softmax", {"axis": 1})]
# the Keras-surface ones: tests/ops/test_activations_keras.py has the rest of their tests
MORE_ACTS = [("silu", {}), ("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}), ("softplus", {})]


def _ids(acts):
    return [n + "".join(f"-{k}={v}" for k, v in kw.items()) for n, kw in acts]


IDS = _ids(ACTS)


def _pass(name, x, dout, kw):
    out, cache = getattr(ops, f"{name}_forward")(x, **kw)
    return out, getattr(ops, f"{name}_backward")(dout, cache)


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 7), (33, 13), (2, 3, 5)])
@pytest.mark.parametrize("name,kw", ACTS + MORE_ACTS, ids=_ids(ACTS + MORE_ACTS))
def test_matches_reference(dev, version, dtype, shape, name, kw, rng):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    with on(dev, "activations", version):
        out, dx = _pass(name, x, dout, kw)
    with on("reference"):
        want_out, want_dx = _pass(name, x, dout, kw)
    assert out.dtype == dtype and dx.dtype == dtype and out.shape == shape and dx.shape == shape
    assert_close(out, want_out)
    assert_close(dx, want_dx)
    assert not np.shares_memory(dx, dout) and not np.shares_memory(dx, x)


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kw", ACTS, ids=IDS)
def test_noncontiguous_and_outliers(dev, version, dtype, name, kw, rng):
    base = (rng.standard_normal((26, 7)) * 3).astype(dtype)
    base[0, :] = [1e4, -1e4, 3e3, -3e3, 0.0, 1e4, -1e4]     # outliers
    x = base[::2].T                                          # (7, 13): strided and transposed
    dout = rng.standard_normal((13, 7)).astype(dtype).T
    with on(dev, "activations", version):
        out, dx = _pass(name, x, dout, kw)
    with on("reference"):
        want_out, want_dx = _pass(name, np.ascontiguousarray(x), np.ascontiguousarray(dout), kw)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    assert_close(out, want_out)
    assert_close(dx, want_dx)


@pytest.mark.parametrize("name,kw", ACTS, ids=IDS)
def test_finite_differences_on_reference(name, kw, rng):
    x = rng.standard_normal((3, 4, 5)) * 2
    x[np.abs(x) < 1e-3] = 0.5                                # keep away from relu's kink
    fwd, bwd = getattr(ops, f"{name}_forward"), getattr(ops, f"{name}_backward")
    with on("reference"):
        assert td.gradcheck((fwd, bwd), [x], kwargs=kw, atol=1e-8, rtol=1e-6)


def test_hand_worked_values():
    for dev in ("reference", "cpu"):
        with td.device.using(dev):
            x = np.array([-2.0, 0.0, 1.0])
            np.testing.assert_array_equal(ops.relu_forward(x)[0], [0, 0, 1])
            np.testing.assert_allclose(ops.leaky_relu_forward(x)[0], [-0.6, 0, 1], rtol=1e-15)
            np.testing.assert_allclose(ops.sigmoid_forward(x)[0],
                                       [1 / (1 + math.exp(2)), 0.5, 1 / (1 + math.exp(-1))], rtol=1e-15)
            np.testing.assert_allclose(ops.tanh_forward(x)[0], [math.tanh(-2), 0, math.tanh(1)], rtol=1e-15)
            # gelu(1) = 0.5 (1 + erf(1/sqrt 2)) = Phi(1) = 0.8413447460685429
            np.testing.assert_allclose(ops.gelu_forward(x)[0][2], 0.8413447460685429, rtol=1e-15)
            # softmax([0, ln 3]) = [1/4, 3/4]
            y, cache = ops.softmax_forward(np.array([[0.0, math.log(3.0)]]))
            np.testing.assert_allclose(y, [[0.25, 0.75]], rtol=1e-15)
            # its backward at dout = [1, 0]: y0 (1 - y0) = 3/16, -y0 y1 = -3/16
            np.testing.assert_allclose(ops.softmax_backward(np.array([[1.0, 0.0]]), cache), [[3 / 16, -3 / 16]],
                                       rtol=1e-14)
            # sigmoid'(0) = 1/4, relu'(x) = [0, 0, 1] (0 at the kink, as PyTorch)
            np.testing.assert_allclose(ops.sigmoid_backward(np.ones(3), ops.sigmoid_forward(x)[1])[1], 0.25)
            np.testing.assert_array_equal(ops.relu_backward(np.ones(3), ops.relu_forward(x)[1]), [0, 0, 1])


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_saturation_at_large_inputs(dev):
    x = np.array([-1e4, -800.0, 800.0, 1e4], dtype=np.float32)
    with td.device.using(dev):
        np.testing.assert_array_equal(ops.sigmoid_forward(x)[0], [0, 0, 1, 1])
        np.testing.assert_array_equal(ops.gelu_forward(x)[0], [-0.0, -0.0, 800, 1e4])
        np.testing.assert_array_equal(ops.softmax_forward(x)[0], [0, 0, 0, 1])


@pytest.mark.parametrize("dev,version", CASES + [pytest.param("reference", None, id="reference")])
@pytest.mark.parametrize("name,kw", ACTS, ids=IDS)
def test_torch_parity(dev, version, name, kw, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.standard_normal((3, 4, 5)) * 3
    dout = rng.standard_normal((3, 4, 5))
    fn = {
        "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
        "gelu": lambda t: F.gelu(t, approximate="none"),
        "leaky_relu": lambda t: F.leaky_relu(t, kw.get("negative_slope", 0.3)),
        "softmax": lambda t: torch.softmax(t, dim=kw.get("axis", -1)),
    }[name]
    with on(dev, "activations", version):
        out, dx = _pass(name, x, dout, kw)
    tx = torch.tensor(x, requires_grad=True)
    tout = fn(tx)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-11, atol=1e-14)


@pytest.fixture
def no_kernel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was reached before the input was checked")
    monkeypatch.setattr(tinydl.device, "backend", refuse)


@pytest.mark.parametrize("call, error, words", [
    (lambda: ops.softmax_forward(np.ones((2, 3)), axis=2), ValueError, ["[-2, 2)", "2"]),
    (lambda: ops.softmax_forward(np.ones((2, 3)), axis=1.0), ValueError, ["an int", "1.0"]),
    (lambda: ops.leaky_relu_forward(np.ones(3), negative_slope=float("inf")), ValueError, ["negative_slope", "inf"]),
    (lambda: ops.relu_forward(np.array(["a"])), TypeError, ["float32", "<U1"]),
    (lambda: ops.relu_backward(np.ones(3), None), TypeError, ["cache returned by relu_forward", "received None"]),
])
def test_bad_input_is_refused_before_any_kernel(no_kernel, call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax"])
def test_bad_dout_is_refused_before_any_kernel(name, monkeypatch):
    _, cache = getattr(ops, f"{name}_forward")(np.ones((2, 3)))
    monkeypatch.setattr(tinydl.device, "backend", lambda *a, **k: pytest.fail("kernel reached"))
    back = getattr(ops, f"{name}_backward")
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        back(np.ones((3, 2)), cache)
    with pytest.raises(TypeError, match="float64.*float32"):
        back(np.ones((2, 3), np.float32), cache)


def test_integer_input_is_cast_to_float32():
    out, _ = ops.relu_forward(np.array([-1, 2]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [0, 2])
