"""flip2d / crop2d: every device against the reference, hand-worked values, finite differences,
PyTorch parity, bad input refused before any kernel."""
import numpy as np
import pytest
from helpers import assert_close, kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("augmentation")
DEVICES = CASES + [pytest.param("reference", None, id="reference")]


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flip_matches_reference(dev, version, dtype, rng):
    x = rng.standard_normal((4, 3, 5, 7)).astype(dtype)
    rows, cols = np.array([True, False, True, False]), np.array([True, True, False, False])
    dout = rng.standard_normal(x.shape).astype(dtype)
    with on(dev):
        out, cache = ops.flip2d_forward(x, rows, cols)
        dx = ops.flip2d_backward(dout, cache)
    with on("reference"):
        want, rcache = ops.flip2d_forward(x, rows, cols)
        want_dx = ops.flip2d_backward(dout, rcache)
    assert_close(out, want)
    assert_close(dx, want_dx)


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crop_matches_reference(dev, version, dtype, rng):
    x = rng.standard_normal((3, 2, 6, 7)).astype(dtype)
    top, left = np.array([0, 2, 1]), np.array([3, 0, 1])
    dout = rng.standard_normal((3, 2, 4, 4)).astype(dtype)
    with on(dev):
        out, cache = ops.crop2d_forward(x, top, left, 4, 4)
        dx = ops.crop2d_backward(dout, cache)
    with on("reference"):
        want, rcache = ops.crop2d_forward(x, top, left, 4, 4)
        want_dx = ops.crop2d_backward(dout, rcache)
    assert_close(out, want)
    assert_close(dx, want_dx)


@pytest.mark.parametrize("dev,version", DEVICES)
def test_hand_worked(dev, version):
    x = np.arange(6.0).reshape(1, 1, 2, 3)                  # [[0, 1, 2], [3, 4, 5]]
    with on(dev):
        h = td.device.to_numpy(ops.flip2d_forward(x, np.array([False]), np.array([True]))[0])
        v = td.device.to_numpy(ops.flip2d_forward(x, np.array([True]), np.array([False]))[0])
        out, cache = ops.crop2d_forward(x, np.array([1]), np.array([1]), 1, 2)
        dx = td.device.to_numpy(ops.crop2d_backward(np.array([[[[10.0, 20.0]]]]), cache))
    np.testing.assert_array_equal(h[0, 0], [[2, 1, 0], [5, 4, 3]])
    np.testing.assert_array_equal(v[0, 0], [[3, 4, 5], [0, 1, 2]])
    np.testing.assert_array_equal(td.device.to_numpy(out)[0, 0], [[4, 5]])
    np.testing.assert_array_equal(dx[0, 0], [[0, 0, 0], [0, 10, 20]])


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_finite_differences(dev, rng):
    x = rng.standard_normal((2, 2, 4, 5))
    with on(dev):
        assert td.gradcheck((ops.flip2d_forward, ops.flip2d_backward),
                            [x, np.array([True, False]), np.array([True, True])])
        assert td.gradcheck((ops.crop2d_forward, ops.crop2d_backward),
                            [x, np.array([0, 1]), np.array([2, 0])], kwargs=dict(height=3, width=3))


@pytest.mark.torch
@pytest.mark.parametrize("dev,version", DEVICES)
def test_torch_parity(dev, version, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 4, 5))
    dout = rng.standard_normal(x.shape)
    with on(dev):
        out, cache = ops.flip2d_forward(x, np.array([True, True]), np.array([True, True]))
        dx = ops.flip2d_backward(dout, cache)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.flip(tx, dims=(2, 3))
    tout.backward(torch.tensor(dout))
    np.testing.assert_array_equal(td.device.to_numpy(out), tout.detach().numpy())
    np.testing.assert_array_equal(td.device.to_numpy(dx), tx.grad.numpy())


@pytest.mark.parametrize("call,error,words", [
    (lambda: ops.flip2d_forward(np.ones((2, 1, 2, 2)), np.array([True]), np.array([True, False])), ValueError,
     ["shape (2,)", "(1,)"]),
    (lambda: ops.flip2d_forward(np.ones((1, 1, 2, 2)), np.array([1]), np.array([True])), TypeError, ["bool", "int"]),
    (lambda: ops.crop2d_forward(np.ones((1, 1, 4, 4)), np.array([1]), np.array([0]), 4, 2), ValueError,
     ["top must lie in [0, 0]", "[1]"]),
    (lambda: ops.crop2d_forward(np.ones((1, 1, 4, 4)), np.array([0]), np.array([-1]), 2, 2), ValueError,
     ["left must lie in [0, 2]", "[-1]"]),
    (lambda: ops.crop2d_forward(np.ones((1, 1, 4, 4)), np.array([0]), np.array([0]), 5, 2), ValueError,
     ["(5, 2) must fit", "(4, 4)"]),
    (lambda: ops.crop2d_forward(np.ones((1, 1, 4, 4)), np.array([0.5]), np.array([0]), 2, 2), TypeError,
     ["integer", "float64"]),
])
def test_bad_input_is_refused_before_any_kernel(monkeypatch, call, error, words):
    monkeypatch.setattr(tinydl.device, "backend", lambda *a, **k: pytest.fail("kernel reached"))
    with pytest.raises(error) as err:
        call()
    for w in words:
        assert w in str(err.value)
