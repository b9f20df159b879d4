"""CUDA upsample2d against the NumPy reference (tiny shapes)."""
import numpy as np
import pytest
from helpers import assert_close

from tinydl import device
from tinydl.kernels.reference import upsampling as ref

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,size", [((1, 2, 3, 5), (2, 2)), ((2, 1, 4, 3), (3, 1))])
def test_matches_reference(rng, dtype, shape, size):
    cu = device.backend("upsampling", "cuda")
    x = rng.standard_normal(shape).astype(dtype)
    out, cache = cu.upsample2d_forward(x, size)
    rout, rcache = ref.upsample2d_forward(x, size)
    assert device.is_device_array(out) and out.dtype == dtype
    assert_close(out, rout)
    d = rng.standard_normal(rout.shape).astype(dtype)
    assert_close(cu.upsample2d_backward(device.to_device(d, "cuda"), cache), ref.upsample2d_backward(d, rcache))
