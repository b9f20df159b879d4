"""CUDA flip2d / crop2d against the NumPy reference (tiny shapes)."""
import numpy as np
import pytest
from helpers import assert_close

from tinydl import device
from tinydl.kernels.reference import augmentation as ref

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_reference(rng, dtype):
    cu = device.backend("augmentation", "cuda")
    x = rng.standard_normal((3, 2, 4, 5)).astype(dtype)
    rows, cols = np.array([True, False, True]), np.array([False, True, True])
    out, cache = cu.flip2d_forward(x, rows, cols)
    rout, rcache = ref.flip2d_forward(x, rows, cols)
    assert_close(out, rout)
    assert_close(cu.flip2d_backward(device.to_device(x, "cuda"), cache), ref.flip2d_backward(x, rcache))
    top, left = np.array([0, 1, 2]), np.array([2, 0, 1])
    out, cache = cu.crop2d_forward(x, top, left, 2, 3)
    rout, rcache = ref.crop2d_forward(x, top, left, 2, 3)
    assert_close(out, rout)
    d = rng.standard_normal(rout.shape).astype(dtype)
    assert_close(cu.crop2d_backward(device.to_device(d, "cuda"), cache), ref.crop2d_backward(d, rcache))
