"""CUDA depthwise_conv2d against the NumPy reference (tiny shapes)."""
import numpy as np
import pytest
from helpers import assert_close

from tinydl import device
from tinydl.kernels.reference import depthwise_conv2d as ref

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs,M,k,stride,padding", [((1, 2, 5, 4), 2, (3, 3), (1, 1), (1, 1, 1, 1)),
                                                   ((2, 1, 5, 6), 1, (2, 3), (2, 2), (0, 1, 1, 0))])
def test_matches_reference(rng, dtype, bias, xs, M, k, stride, padding):
    cu = device.backend("depthwise_conv2d", "cuda")
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((xs[1] * M, 1) + k).astype(dtype)
    b = rng.standard_normal(xs[1] * M).astype(dtype) if bias else None
    out, cache = cu.depthwise_conv2d_forward(x, w, b, stride, padding)
    rout, rcache = ref.depthwise_conv2d_forward(x, w, b, stride, padding)
    assert device.is_device_array(out) and out.dtype == dtype
    assert_close(out, rout)
    d = rng.standard_normal(rout.shape).astype(dtype)
    for got, want in zip(cu.depthwise_conv2d_backward(device.to_device(d, "cuda"), cache),
                         ref.depthwise_conv2d_backward(d, rcache), strict=True):
        assert (got is None) == (want is None)
        if want is not None:
            assert_close(got, want)
