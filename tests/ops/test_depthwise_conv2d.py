"""depthwise_conv2d: every device and version against the reference, hand-worked values, finite
differences, PyTorch parity (Conv2d with groups=C), bad input refused before any kernel."""
import re

import numpy as np
import pytest
from helpers import assert_close, kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("depthwise_conv2d")
DEVICES = CASES + [pytest.param("reference", None, id="reference")]
# (x shape, M, kernel, stride, padding)
GEOMS = [((1, 1, 3, 3), 1, (3, 3), 1, 0), ((2, 3, 7, 6), 2, (3, 3), 1, 1),
         ((2, 2, 9, 8), 3, (3, 2), (2, 3), (0, 1, 1, 0)),
         ((1, 5, 4, 5), 1, (1, 1), 2, 0), ((3, 2, 5, 5), 1, (5, 5), 1, 2)]


def _pass(x, w, b, stride, padding, seed):
    out, cache = ops.depthwise_conv2d_forward(x, w, b, stride, padding)
    dout = np.random.default_rng(seed).standard_normal(out.shape).astype(x.dtype)
    return (out,) + tuple(ops.depthwise_conv2d_backward(dout, cache))


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs,M,k,stride,padding", GEOMS)
def test_matches_reference(dev, version, dtype, bias, xs, M, k, stride, padding, rng):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((xs[1] * M, 1) + k).astype(dtype)
    b = rng.standard_normal(xs[1] * M).astype(dtype) if bias else None
    with on(dev, "depthwise_conv2d", version):
        got = _pass(x, w, b, stride, padding, 3)
    with on("reference"):
        want = _pass(x, w, b, stride, padding, 3)
    for g, e in zip(got, want, strict=True):
        if e is None:
            assert g is None
        else:
            assert g.dtype == dtype
            assert_close(g, e)


@pytest.mark.parametrize("dev,version", DEVICES)
def test_hand_worked(dev, version):
    # channel 0 sums each 2x2 window, channel 1 takes each window's top-left; nothing mixes
    x = np.stack([np.arange(9.0).reshape(3, 3), 10 * np.ones((3, 3))])[None]     # (1, 2, 3, 3)
    w = np.stack([np.ones((2, 2)), [[1.0, 0.0], [0.0, 0.0]]])[:, None]             # (2, 1, 2, 2)
    with on(dev, "depthwise_conv2d", version):
        out, cache = ops.depthwise_conv2d_forward(x, w, None)
        dx, dw, db = ops.depthwise_conv2d_backward(np.ones((1, 2, 2, 2)), cache)
    out, dx = td.device.to_numpy(out), td.device.to_numpy(dx)
    np.testing.assert_array_equal(out[0, 0], [[8, 12], [20, 24]])
    np.testing.assert_array_equal(out[0, 1], [[10, 10], [10, 10]])
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])   # windows covering each pixel
    assert db is None


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_finite_differences(dev, rng):
    with on(dev):
        assert td.gradcheck((ops.depthwise_conv2d_forward, ops.depthwise_conv2d_backward),
                            [rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((4, 1, 3, 2)),
                             rng.standard_normal(4)], kwargs=dict(stride=2, padding=(1, 0, 0, 1)))


@pytest.mark.torch
@pytest.mark.parametrize("dev,version", DEVICES)
@pytest.mark.parametrize("M,stride,padding", [(1, 1, 1), (2, 2, 0), (3, 1, 0)])
def test_torch_parity(dev, version, M, stride, padding, rng):
    torch = pytest.importorskip("torch")
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((3 * M, 1, 3, 3)), rng.standard_normal(3 * M)
    with on(dev, "depthwise_conv2d", version):
        out, cache = ops.depthwise_conv2d_forward(x, w, b, stride, padding)
        dout = rng.standard_normal(out.shape)
        dx, dw, db = ops.depthwise_conv2d_backward(dout, cache)
    t = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    tout = torch.nn.functional.conv2d(*t, stride=stride, padding=padding, groups=3)
    tout.backward(torch.tensor(dout))
    for got, want in zip((out, dx, dw, db), (tout.detach(), t[0].grad, t[1].grad, t[2].grad), strict=True):
        np.testing.assert_allclose(td.device.to_numpy(got), want.numpy(), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("w_shape,words", [((3, 1, 2, 2), ["(C*M, 1, KH, KW)", "(3, 1, 2, 2)"]),
                                           ((4, 2, 2, 2), ["(C*M, 1, KH, KW)", "(4, 2, 2, 2)"]),
                                           ((2, 1, 9, 2), ["no larger than the padded input", "9x2"])])
def test_bad_input_is_refused_before_any_kernel(monkeypatch, w_shape, words):
    monkeypatch.setattr(tinydl.device, "backend", lambda *a, **k: pytest.fail("kernel reached"))
    with pytest.raises(ValueError) as err:
        ops.depthwise_conv2d_forward(np.ones((1, 2, 4, 4)), np.ones(w_shape), None)
    for w in words:
        assert w in str(err.value)


def test_versions_table_matches_docstring():
    module = td.device.backend("depthwise_conv2d", "cpu")
    listed = sorted(int(v) for v in re.findall(r"^v(\d+) ", module.__doc__, re.M))
    assert listed == sorted(module.VERSIONS) and module.DEFAULT in module.VERSIONS
