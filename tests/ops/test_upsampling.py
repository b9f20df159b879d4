"""upsample2d: every device against the reference, hand-worked values, finite differences,
PyTorch parity, bad input refused before any kernel."""
import numpy as np
import pytest
from helpers import assert_close, kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("upsampling")
DEVICES = CASES + [pytest.param("reference", None, id="reference")]


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,size", [((1, 1, 3, 5), 2), ((2, 3, 4, 3), (3, 1)), ((2, 1, 1, 7), (1, 4))])
def test_matches_reference(dev, version, dtype, shape, size, rng):
    x = rng.standard_normal(shape).astype(dtype)
    with on(dev):
        out, cache = ops.upsample2d_forward(x, size)
        dout = rng.standard_normal(out.shape).astype(dtype)
        dx = ops.upsample2d_backward(dout, cache)
    with on("reference"):
        want, rcache = ops.upsample2d_forward(x, size)
        want_dx = ops.upsample2d_backward(dout, rcache)
    assert out.dtype == dtype and dx.shape == shape
    assert_close(out, want)
    assert_close(dx, want_dx)


@pytest.mark.parametrize("dev,version", DEVICES)
def test_hand_worked(dev, version):
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    with on(dev):
        out, cache = ops.upsample2d_forward(x, 2)
        dx = ops.upsample2d_backward(np.arange(16.0).reshape(1, 1, 4, 4), cache)
    np.testing.assert_array_equal(td.device.to_numpy(out)[0, 0],
                                  [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    # each block of [[0..3], [4..7], ...] summed: 0+1+4+5, 2+3+6+7, 8+9+12+13, 10+11+14+15
    np.testing.assert_array_equal(td.device.to_numpy(dx)[0, 0], [[10, 18], [42, 50]])


def test_non_contiguous_input(rng):
    x = rng.standard_normal((2, 3, 8, 6))[:, :, ::2, ::-1]
    out, _ = ops.upsample2d_forward(x, (2, 3))
    with on("reference"):
        want, _ = ops.upsample2d_forward(np.ascontiguousarray(x), (2, 3))
    assert_close(out, want)


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_finite_differences(dev, rng):
    with on(dev):
        assert td.gradcheck((ops.upsample2d_forward, ops.upsample2d_backward),
                            [rng.standard_normal((2, 2, 3, 2))], kwargs={"size": (2, 3)})


@pytest.mark.torch
@pytest.mark.parametrize("dev,version", DEVICES)
def test_torch_parity(dev, version, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 4, 5))
    dout = rng.standard_normal((2, 3, 8, 15))
    with on(dev):
        out, cache = ops.upsample2d_forward(x, (2, 3))
        dx = ops.upsample2d_backward(dout, cache)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.Upsample(scale_factor=(2, 3), mode="nearest")(tx)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(td.device.to_numpy(out), tout.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(td.device.to_numpy(dx), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("call,words", [
    (lambda: ops.upsample2d_forward(np.ones((2, 3, 4)), 2), ["4-D", "(2, 3, 4)"]),
    (lambda: ops.upsample2d_forward(np.ones((1, 1, 2, 2)), 0), ["size", "0"]),
    (lambda: ops.upsample2d_forward(np.ones((1, 1, 2, 2)), (2, 1.5)), ["size", "1.5"]),
    (lambda: ops.upsample2d_backward(np.ones((1, 1, 4, 4)), None), ["cache returned by upsample2d_forward"]),
])
def test_bad_input_is_refused_before_any_kernel(monkeypatch, call, words):
    monkeypatch.setattr(tinydl.device, "backend", lambda *a, **k: pytest.fail("kernel reached"))
    with pytest.raises((ValueError, TypeError)) as err:
        call()
    for w in words:
        assert w in str(err.value)


def test_bad_dout_shape_is_refused():
    _, cache = ops.upsample2d_forward(np.ones((1, 1, 2, 2)), 2)
    with pytest.raises(ValueError, match=r"\(1, 1, 4, 4\).*\(1, 1, 4, 3\)"):
        ops.upsample2d_backward(np.ones((1, 1, 4, 3)), cache)
