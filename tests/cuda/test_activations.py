"""CUDA activations and elementwise helpers against the NumPy reference (tiny shapes)."""
import numpy as np
import pytest
from helpers import assert_close

from tinydl import device
from tinydl.kernels.reference import activations as ref
from tinydl.kernels.reference import elementwise as ref_el

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]
DTYPES = [np.float64, np.float32]


def cu(family):
    return device.backend(family, "cuda")


def _x(rng, shape, dtype):
    x = rng.standard_normal(shape) * 3
    x.flat[0] = 40.0          # an outlier: sigmoid and softmax must stay finite
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kw", [("relu", {}), ("leaky_relu", {"negative_slope": 0.2}),
                                     ("sigmoid", {}), ("tanh", {}), ("gelu", {})])
def test_pointwise_matches_reference(rng, name, kw, dtype):
    # 3*5*11 = 165 elements: two blocks of 128 threads, the second one partly idle
    x, d = _x(rng, (3, 5, 11), dtype), _x(rng, (3, 5, 11), dtype)
    out, cache = getattr(cu("activations"), name + "_forward")(x, **kw)
    rout, rcache = getattr(ref, name + "_forward")(x, **kw)
    assert device.is_device_array(out) and out.dtype == dtype and out.shape == x.shape
    assert_close(out, rout)
    dx = getattr(cu("activations"), name + "_backward")(device.to_device(d, "cuda"), cache)
    assert device.is_device_array(dx) and dx.dtype == dtype
    assert_close(dx, getattr(ref, name + "_backward")(d, rcache))


@pytest.mark.parametrize("version", device.versions("activations", "cuda"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", [((2, 3, 5), -1), ((2, 3, 5), 1), ((2, 3, 5), 0), ((1, 37), -1)])
def test_softmax_every_version(rng, version, dtype, shape, axis):
    # (1, 37): a row longer than the 32 threads of v2's block
    x, d = _x(rng, shape, dtype), _x(rng, shape, dtype)
    with device.use_version("activations", version, "cuda"):
        out, cache = cu("activations").softmax_forward(x, axis)
        dx = cu("activations").softmax_backward(d, cache)
    rout, rcache = ref.softmax_forward(x, axis)
    assert_close(out, rout)
    assert_close(dx, ref.softmax_backward(d, rcache))
    assert np.isfinite(device.to_numpy(out)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_helpers(rng, dtype):
    el = cu("elementwise")
    a, b = _x(rng, (3, 5, 11), dtype), _x(rng, (3, 5, 11), dtype)
    assert_close(el.add(a, b), ref_el.add(a, b))
    dst = device.to_device(a, "cuda")
    el.accumulate(dst, b)                     # in place on the device array
    expected = a.copy()
    ref_el.accumulate(expected, b)
    assert_close(dst, expected)
    el.scale_(dst, 0.25)
    ref_el.scale_(expected, 0.25)
    assert_close(dst, expected)
    assert el.sum_squares(a) == pytest.approx(ref_el.sum_squares(a), rel=1e-12 if dtype == np.float64 else 1e-6)
    assert isinstance(el.sum_squares(a), float)
    for shape in [(11,), (5, 11), (3, 5, 11)]:
        got = el.sum_to(a, shape)
        assert got.shape == shape and got.dtype == dtype
        assert_close(got, ref_el.sum_to(a, shape))


def test_sum_squares_hand_worked():
    # 1 + 4 + 9 + ... + 200^2 = 200 * 201 * 401 / 6 over two blocks of 128 threads
    a = np.arange(1, 201, dtype=np.float64)
    assert cu("elementwise").sum_squares(a) == 200 * 201 * 401 / 6


# the kernel interface (functions, signatures, VERSIONS, the lesson plan) of every device is
# checked in the default run: tests/ops/test_kernel_interface.py
