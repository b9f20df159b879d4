"""CUDA conv2d_transpose against the NumPy reference (tiny shapes)."""
import numpy as np
import pytest
from helpers import assert_close

from tinydl import device
from tinydl.kernels.reference import conv2d_transpose as ref

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xs,ws,stride,padding,size", [((1, 2, 3, 3), (2, 3, 3, 3), (2, 2), (1, 1, 1, 1), (6, 6)),
                                                       ((2, 1, 2, 3), (1, 2, 2, 1), (1, 2), (0, 0, 0, 0), (3, 6))])
def test_matches_reference(rng, dtype, xs, ws, stride, padding, size):
    cu = device.backend("conv2d_transpose", "cuda")
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[1]).astype(dtype)
    out, cache = cu.conv2d_transpose_forward(x, w, b, stride, padding, size)
    rout, rcache = ref.conv2d_transpose_forward(x, w, b, stride, padding, size)
    assert device.is_device_array(out) and out.dtype == dtype
    assert_close(out, rout)
    d = rng.standard_normal(rout.shape).astype(dtype)
    for got, want in zip(cu.conv2d_transpose_backward(device.to_device(d, "cuda"), cache),
                         ref.conv2d_transpose_backward(d, rcache), strict=True):
        assert_close(got, want)
