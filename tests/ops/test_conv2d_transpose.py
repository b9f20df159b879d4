"""conv2d_transpose: every device against the reference, the link to conv2d (its forward is
conv2d's input gradient), finite differences, PyTorch parity with stride 2 and output_padding,
bad input refused before any kernel."""
import numpy as np
import pytest
from helpers import assert_close, kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("conv2d_transpose")
DEVICES = CASES + [pytest.param("reference", None, id="reference")]
# (x shape, w shape, stride, padding, output_size)
GEOMS = [((1, 1, 3, 3), (1, 1, 2, 2), 1, 0, None),
         ((2, 3, 4, 5), (3, 2, 3, 3), 2, 1, (8, 10)),            # stride 2, output_padding 1
         ((2, 2, 3, 4), (2, 5, 3, 2), (2, 3), (0, 1, 1, 0), None),  # Keras "same"'s uneven crop
         ((1, 4, 5, 3), (4, 3, 1, 1), 3, 0, (15, 9))]            # kernel < stride: gaps of zeros


def _pass(x, w, b, stride, padding, size, dout_rng):
    out, cache = ops.conv2d_transpose_forward(x, w, b, stride, padding, size)
    dout = dout_rng.standard_normal(out.shape).astype(x.dtype)
    return (out,) + tuple(ops.conv2d_transpose_backward(dout, cache))


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,stride,padding,size", GEOMS)
def test_matches_reference(dev, version, dtype, xs, ws, stride, padding, size, rng):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[1]).astype(dtype)
    with on(dev, "conv2d_transpose", version):
        got = _pass(x, w, b, stride, padding, size, np.random.default_rng(5))
    with on("reference"):
        want = _pass(x, w, b, stride, padding, size, np.random.default_rng(5))
    for g, e in zip(got, want, strict=True):
        assert g.dtype == dtype
        assert_close(g, e)


@pytest.mark.parametrize("dev,version", DEVICES)
def test_forward_is_conv2d_input_gradient(dev, version, rng):
    # the transposed convolution of x equals conv2d_backward's dx when dout = x
    y = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 2))                      # conv2d: 3 -> 4 channels
    with on(dev, "conv2d_transpose", version):
        z, conv_cache = ops.conv2d_forward(y, w, None, 2, (1, 0, 0, 1))
        x = rng.standard_normal(z.shape)
        dy, _, _ = ops.conv2d_backward(x, conv_cache)
        out, _ = ops.conv2d_transpose_forward(x, w, None, 2, (1, 0, 0, 1), (7, 6))
    assert_close(out, dy)


def test_hand_worked():
    # x = [[1, 2]], w = [[1, 10]] at stride 2 places the kernel twice without overlap;
    # at stride 1 the two copies overlap in the middle: [1, 10 + 2, 20]
    x = np.array([[[[1.0, 2.0]]]])
    w = np.array([[[[1.0, 10.0]]]])
    np.testing.assert_array_equal(ops.conv2d_transpose_forward(x, w, None, 2)[0][0, 0], [[1, 10, 2, 20]])
    np.testing.assert_array_equal(ops.conv2d_transpose_forward(x, w, None, 1)[0][0, 0], [[1, 12, 20]])
    np.testing.assert_array_equal(ops.conv2d_transpose_forward(x, w, None, 1, (0, 0, 1, 0))[0][0, 0], [[12, 20]])


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_finite_differences(dev, rng):
    with on(dev):
        assert td.gradcheck((ops.conv2d_transpose_forward, ops.conv2d_transpose_backward),
                            [rng.standard_normal((2, 2, 3, 3)), rng.standard_normal((2, 3, 3, 2)),
                             rng.standard_normal(3)], kwargs=dict(stride=2, padding=(1, 0, 0, 1),
                                                                  output_size=(6, 5)))


@pytest.mark.torch
@pytest.mark.parametrize("dev,version", DEVICES)
@pytest.mark.parametrize("k,s,p,op", [(3, 1, 1, 0), (3, 2, 1, 1), (4, 2, 1, 0), (2, 2, 0, 0), (1, 2, 0, 1),
                                      (3, 3, 0, 2)])
def test_torch_parity(dev, version, k, s, p, op, rng):
    torch = pytest.importorskip("torch")
    x, w, b = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, k, k)), rng.standard_normal(2)
    size = tuple((n - 1) * s - 2 * p + k + op for n in (4, 5))
    with on(dev, "conv2d_transpose", version):
        out, cache = ops.conv2d_transpose_forward(x, w, b, s, p, size)
        dout = rng.standard_normal(out.shape)
        dx, dw, db = ops.conv2d_transpose_backward(dout, cache)
    t = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    tout = torch.nn.functional.conv_transpose2d(*t, stride=s, padding=p, output_padding=op)
    tout.backward(torch.tensor(dout))
    for got, want in zip((out, dx, dw, db), (tout.detach(), t[0].grad, t[1].grad, t[2].grad), strict=True):
        np.testing.assert_allclose(td.device.to_numpy(got), want.numpy(), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("call,error,words", [
    (lambda: ops.conv2d_transpose_forward(np.ones((1, 2, 3, 3)), np.ones((3, 1, 2, 2)), None), ValueError,
     ["3 input channels", "2 channels"]),
    (lambda: ops.conv2d_transpose_forward(np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2)), None, 2, 0, (8, 6)),
     ValueError, ["[6, 7]", "(8, 6)"]),
    (lambda: ops.conv2d_transpose_forward(np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2)), np.ones(2)), ValueError,
     ["(1,)", "(2,)"]),
    (lambda: ops.conv2d_transpose_forward(np.ones((1, 2, 3)), np.ones((2, 1, 2, 2)), None), ValueError, ["4-D"]),
    (lambda: ops.conv2d_transpose_forward(np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2)), None, 0), ValueError,
     ["stride", "0"]),
    (lambda: ops.conv2d_transpose_backward(np.ones((1, 1, 4, 4)), None), TypeError, ["cache returned"]),
])
def test_bad_input_is_refused_before_any_kernel(monkeypatch, call, error, words):
    monkeypatch.setattr(tinydl.device, "backend", lambda *a, **k: pytest.fail("kernel reached"))
    with pytest.raises(error) as err:
        call()
    for w in words:
        assert w in str(err.value)
