"""conv2d_relu: ReLU(conv2d(x)) as one op, on every device and conv2d version against the
reference's composition, a hand-worked case, the fused epilogues bit for bit, NaN, dx-free
backward, and the cache check."""
import numpy as np
import pytest
from helpers import assert_close, host, kernel_cases, on

from tinydl import ops

CASES = kernel_cases("conv2d")
SHAPES = [
    ((2, 3, 9, 7), 4, 1, 1),                  # few channels, small images (v7 runs v5's path)
    ((2, 16, 16, 17), 16, 1, 1),              # v7's per-image GEMMs, v9's Winograd
    ((1, 16, 15, 14), 18, 1, (1, 1, 0, 2)),   # Winograd, odd sizes and asymmetric padding
    ((2, 4, 17, 16), 5, 2, 0),                # stride 2
]


def _pair(x, w, b, dout, stride, padding, need_dx=True):
    out, cache = ops.conv2d_relu_forward(x, w, b, stride, padding)
    return (out, *ops.conv2d_relu_backward(dout, cache, need_dx=need_dx))


def _composed(x, w, b, dout, stride, padding):
    # the reference conv, the reference ReLU, and back through both
    with on("reference"):
        z, conv_cache = ops.conv2d_forward(x, w, b, stride, padding)
        out, relu_cache = ops.relu_forward(z)
        return (out, *ops.conv2d_backward(ops.relu_backward(dout, relu_cache), conv_cache))


# every shape on the CPU; the first (small) one on CUDA, whose simulator is slow
DEVICE_SHAPES = [pytest.param(*c.values, *s, id=f"{c.id}-{i}", marks=c.marks) for c in CASES
                 for i, s in enumerate(SHAPES) if c.values[0] == "cpu" or i == 0]


@pytest.mark.parametrize("dev,version,shape,filters,stride,padding", DEVICE_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_conv_then_relu_on_the_reference(dev, version, dtype, shape, filters, stride, padding, rng):
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((filters, shape[1], 3, 3)).astype(dtype)
    b = rng.standard_normal(filters).astype(dtype)
    with on("reference"):
        probe, _ = ops.conv2d_forward(x, w, b, stride, padding)
    dout = rng.standard_normal(probe.shape).astype(dtype)
    with on(dev, "conv2d", version):
        got = _pair(x, w, b, dout, stride, padding)
        no_dx = _pair(x, w, b, dout, stride, padding, need_dx=False)
    want = _composed(*(a.astype(np.float64) for a in (x, w, b, dout)), stride, padding)
    assert 0.2 < (host(got[0]) > 0).mean() < 0.8          # the ReLU cut a real share of the outputs
    for g, e in zip(got, want, strict=True):
        assert g.dtype == np.dtype(dtype)
        assert_close(g, e.astype(dtype), dtype)
    assert no_dx[1] is None
    np.testing.assert_array_equal(host(no_dx[2]), host(got[2]))
    np.testing.assert_array_equal(host(no_dx[3]), host(got[3]))


@pytest.mark.parametrize("version", [7, 9])
@pytest.mark.parametrize("shape,filters,stride,padding", SHAPES)
def test_fused_epilogues_equal_the_relu_kernel_bit_for_bit(version, shape, filters, stride, padding, rng):
    # v7/v9 apply the ReLU where they add the bias: the same values as their conv, then ReLU
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((filters, shape[1], 3, 3)).astype(np.float32)
    b = rng.standard_normal(filters).astype(np.float32)
    with on("cpu", "conv2d", version):
        fused, _ = ops.conv2d_relu_forward(x, w, b, stride, padding)
        z, _ = ops.conv2d_forward(x, w, b, stride, padding)
        unfused, _ = ops.relu_forward(z)
    np.testing.assert_array_equal(fused, unfused)


def test_hand_worked():
    # x = [1, -2, 3] (one row), w = [1, 1] (a 1x2 kernel), b = -1.5: z = [-2.5, -0.5] -> out = [0, 0];
    # b = 0.5: z = [-0.5, 1.5] -> out = [0, 1.5], dout = [1, 1] -> dw = [-2, 3], db = 1, dx = [0, 1, 1]
    x = np.array([1.0, -2.0, 3.0]).reshape(1, 1, 1, 3)
    w = np.ones((1, 1, 1, 2))
    out, cache = ops.conv2d_relu_forward(x, w, np.array([0.5]))
    dx, dw, db = ops.conv2d_relu_backward(np.ones((1, 1, 1, 2)), cache)
    np.testing.assert_array_equal(out.ravel(), [0.0, 1.5])
    np.testing.assert_array_equal(dw.ravel(), [-2.0, 3.0])
    np.testing.assert_array_equal(db, [1.0])
    np.testing.assert_array_equal(dx.ravel(), [0.0, 1.0, 1.0])


@pytest.mark.parametrize("version", [1, 5, 7, 9])
def test_nan_passes_as_in_the_relu_op(version):
    x = np.ones((1, 16, 16, 16))
    x[0, 0, 3, 3] = np.nan
    w = -np.ones((16, 16, 3, 3))
    with on("cpu", "conv2d", version):
        out, _ = ops.conv2d_relu_forward(x, w, None, 1, 1)
    assert np.isnan(out[0, :, 2:5, 2:5]).all() and (out[0, :, 8:, 8:] == 0).all()


def test_backward_refuses_a_plain_conv2d_cache(rng):
    _, cache = ops.conv2d_forward(rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3)), None)
    with pytest.raises(TypeError, match="conv2d_relu"):
        ops.conv2d_relu_backward(np.zeros((1, 3, 2, 2)), cache)


def test_bad_input_fails_like_conv2d():
    with pytest.raises(ValueError, match="2 input channels"):
        ops.conv2d_relu_forward(np.zeros((2, 3, 8, 8)), np.zeros((4, 2, 3, 3)), None)
