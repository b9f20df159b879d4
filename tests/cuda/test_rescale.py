"""CUDA rescale against the NumPy reference (tiny shapes, two blocks)."""
import numpy as np
import pytest

from tinydl import device
from tinydl.kernels.reference import rescale as ref

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rescale_matches_reference(dtype):
    x = np.random.default_rng(0).normal(size=(3, 5, 11)).astype(dtype)   # 165: two blocks of 128
    cu = device.backend("rescale", "cuda")
    y, cache = cu.rescale_forward(x, 1 / 255, -0.5)
    y = device.to_numpy(y)
    assert y.dtype == dtype and cache == 1 / 255
    np.testing.assert_allclose(y, ref.rescale_forward(x, 1 / 255, -0.5)[0], rtol=1e-6)
    np.testing.assert_allclose(device.to_numpy(cu.rescale_backward(x, 3.0)), ref.rescale_backward(x, 3.0),
                               rtol=1e-6)
