"""silu (swish), elu, selu, softplus: NaN propagation, finite differences, hand-worked values,
PyTorch parity, bad input (every device against the reference: tests/ops/test_activations.py)."""
import math

import numpy as np
import pytest
from helpers import kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("activations")
DEVICES = CASES + [pytest.param("reference", None, id="reference")]
DTYPES = [np.float32, np.float64]
ACTS = [("silu", {}), ("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}), ("softplus", {})]
IDS = [n + "".join(f"-{k}={v}" for k, v in kw.items()) for n, kw in ACTS]


def _pass(name, x, dout, kw):
    out, cache = getattr(ops, f"{name}_forward")(x, **kw)
    return out, getattr(ops, f"{name}_backward")(dout, cache)


@pytest.mark.parametrize("dev,version", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kw", ACTS, ids=IDS)
def test_nan_propagates_and_outliers_stay_finite(dev, version, dtype, name, kw):
    x = np.array([np.nan, -1e4, -800.0, 0.0, 800.0, 1e4], dtype=dtype)
    with on(dev, "activations", version):
        out, dx = _pass(name, x, np.ones_like(x), kw)
    out, dx = td.device.to_numpy(out), td.device.to_numpy(dx)
    assert np.isnan(out[0]) and np.isnan(dx[0])
    assert np.all(np.isfinite(out[1:])) and np.all(np.isfinite(dx[1:]))


@pytest.mark.parametrize("name,kw", ACTS, ids=IDS)
def test_finite_differences_on_reference(name, kw, rng):
    x = rng.standard_normal((3, 4, 5)) * 2
    x[np.abs(x) < 1e-3] = 0.5                                # keep away from elu's kink
    fwd, bwd = getattr(ops, f"{name}_forward"), getattr(ops, f"{name}_backward")
    with on("reference"):
        assert td.gradcheck((fwd, bwd), [x], kwargs=kw, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_hand_worked_values(dev):
    x = np.array([-1.0, 0.0, 2.0])
    with td.device.using(dev):
        # silu(2) = 2 / (1 + e^-2); silu(-1) = -1 / (1 + e)
        np.testing.assert_allclose(ops.silu_forward(x)[0], [-1 / (1 + math.e), 0, 2 / (1 + math.exp(-2))],
                                   rtol=1e-15)
        # elu(-1) = e^-1 - 1; elu(-1, alpha=0.5) = 0.5 (e^-1 - 1)
        np.testing.assert_allclose(ops.elu_forward(x)[0], [math.exp(-1) - 1, 0, 2], rtol=1e-15)
        np.testing.assert_allclose(ops.elu_forward(x, alpha=0.5)[0][0], 0.5 * (math.exp(-1) - 1), rtol=1e-15)
        # selu(2) = 1.0507... * 2
        np.testing.assert_allclose(ops.selu_forward(x)[0][2], 2 * 1.0507009873554805, rtol=1e-15)
        # softplus(0) = ln 2, its derivative sigmoid(0) = 1/2; softplus(1e4) = 1e4 (no overflow)
        y, cache = ops.softplus_forward(np.array([0.0, 1e4]))
        np.testing.assert_allclose(y, [math.log(2), 1e4], rtol=1e-15)
        np.testing.assert_allclose(ops.softplus_backward(np.ones(2), cache), [0.5, 1.0], rtol=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("dev,version", DEVICES)
@pytest.mark.parametrize("name,kw", ACTS, ids=IDS)
def test_torch_parity(dev, version, name, kw, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.standard_normal((3, 4, 5)) * 3
    dout = rng.standard_normal((3, 4, 5))
    fn = {"silu": F.silu, "elu": lambda t: F.elu(t, kw.get("alpha", 1.0)), "selu": F.selu,
          "softplus": F.softplus}[name]
    with on(dev, "activations", version):
        out, dx = _pass(name, x, dout, kw)
    tx = torch.tensor(x, requires_grad=True)
    tout = fn(tx)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(td.device.to_numpy(out), tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(td.device.to_numpy(dx), tx.grad.numpy(), rtol=1e-11, atol=1e-14)


def test_bad_input_is_refused_before_any_kernel(monkeypatch):
    monkeypatch.setattr(tinydl.device, "backend", lambda *a, **k: pytest.fail("kernel reached"))
    with pytest.raises(ValueError, match="alpha.*inf"):
        ops.elu_forward(np.ones(3), alpha=float("inf"))
    with pytest.raises(TypeError, match="cache returned by silu_forward"):
        ops.silu_backward(np.ones(3), None)
