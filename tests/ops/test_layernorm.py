"""Layer norm op: every CPU version against the reference, finite differences, hand-worked
values, PyTorch parity, bad input."""
import numpy as np
import pytest
from helpers import assert_close, kernel_cases, on

import tinydl as td
from tinydl import device, ops
from tinydl.kernels.cpu import layernorm as cpu_layernorm
from tinydl.kernels.reference import layernorm as ref_layernorm

CASES = kernel_cases("layernorm")


def _run(dev, version, x, g, b, dout, eps=1e-3):
    with on(dev, "layernorm", version):
        out, cache = ops.layernorm_forward(x, g, b, eps)
        return (out,) + tuple(ops.layernorm_backward(dout, cache))


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 7), (33, 13), (2, 3, 5), (3, 65, 64), (17,)])
def test_matches_reference(dev, version, dtype, shape, rng):
    x = (rng.standard_normal(shape) * 3 + 5).astype(dtype)
    g, b = rng.standard_normal(shape[-1:]).astype(dtype), rng.standard_normal(shape[-1:]).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    for a, w in zip(_run(dev, version, x, g, b, dout), _run("reference", None, x, g, b, dout), strict=True):
        assert a.dtype == np.dtype(dtype)
        assert_close(a, w)


@pytest.mark.parametrize("dev,version", CASES)
def test_non_contiguous_and_outliers(dev, version, rng):
    x = (rng.standard_normal((6, 20)) * 1e3 + 1e4)[:, ::2]    # a large mean over a small spread
    g, b = rng.standard_normal(10), rng.standard_normal(10)
    dout = rng.standard_normal((10, 6)).T
    got = _run(dev, version, x, g, b, dout)
    for a, w in zip(got, _run("reference", None, x, g, b, dout), strict=True):
        assert_close(a, w)
    # normalized rows have mean 0 and variance var/(var+eps) ~ 1
    out = _run(dev, version, x, np.ones(10), np.zeros(10), dout)[0]
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-12)


def test_hand_worked_values():
    # x = [1, 3]: mean 2, var 1, xhat = [-1, 1] / sqrt(1 + eps)
    x = np.array([[1.0, 3.0]])
    for dev in ("reference", "cpu"):
        with device.using(dev):
            out, cache = ops.layernorm_forward(x, np.array([2.0, 1.0]), np.array([0.5, 0.0]), eps=0.0 + 1e-12)
            np.testing.assert_allclose(out, [[-2.0 + 0.5, 1.0]], rtol=1e-9)
            dx, dg, db = ops.layernorm_backward(np.array([[1.0, 1.0]]), cache)
            np.testing.assert_allclose(db, [1.0, 1.0])
            np.testing.assert_allclose(dg, [-1.0, 1.0], rtol=1e-9)
            # g = dout*gamma = [2, 1]: dx = [2 - 1.5 - (-1)(-0.5), 1 - 1.5 - (1)(-0.5)] = [0, 0]
            np.testing.assert_allclose(dx, [[0.0, 0.0]], atol=1e-9)


def test_reference_finite_differences(rng):
    x, g, b = rng.standard_normal((3, 5)), rng.standard_normal(5), rng.standard_normal(5)
    with device.using("reference"):
        assert td.gradcheck((ops.layernorm_forward, ops.layernorm_backward), [x, g, b],
                            atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("dev,version", [("reference", None)] + CASES)
def test_torch_parity(dev, version, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 7, 9)) * 2 + 1
    g, b, dout = rng.standard_normal(9), rng.standard_normal(9), rng.standard_normal((2, 7, 9))
    got = _run(dev, version, x, g, b, dout, eps=1e-5)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, g, b))
    out = torch.nn.functional.layer_norm(tx, (9,), tg, tb, eps=1e-5)
    out.backward(torch.tensor(dout))
    for a, t in zip(got, (out, tx.grad, tg.grad, tb.grad), strict=True):
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_bad_input(dev, rng, monkeypatch):
    def boom(*a, **kw):
        raise AssertionError("a kernel ran on bad input")

    for mod in (ref_layernorm, cpu_layernorm):
        monkeypatch.setattr(mod, "layernorm_forward", boom)
    x = rng.standard_normal((4, 6))
    with device.using(dev):
        with pytest.raises(ValueError, match=r"\(6,\).*\(5,\)"):
            ops.layernorm_forward(x, np.ones(5), np.zeros(6))
        with pytest.raises(ValueError, match=r"beta.*\(6,\).*\(6, 1\)"):
            ops.layernorm_forward(x, np.ones(6), np.zeros((6, 1)))
        with pytest.raises(ValueError, match="eps"):
            ops.layernorm_forward(x, np.ones(6), np.zeros(6), eps=0.0)
        with pytest.raises(TypeError, match="dtype"):
            ops.layernorm_forward(x, np.ones(6, np.float32), np.zeros(6))
