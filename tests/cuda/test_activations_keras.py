"""CUDA silu, elu, selu, softplus against the NumPy reference (tiny shapes), NaN included."""
import numpy as np
import pytest
from helpers import assert_close

from tinydl import device
from tinydl.kernels.reference import activations as ref

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kw", [("silu", {}), ("elu", {"alpha": 0.5}), ("selu", {}), ("softplus", {})])
def test_matches_reference(rng, name, kw, dtype):
    # 3*5*11 = 165 elements: two blocks of 128 threads; an outlier and a NaN at the front
    x = (rng.standard_normal((3, 5, 11)) * 3).astype(dtype)
    x.flat[0], x.flat[1] = 40.0, np.nan
    d = rng.standard_normal((3, 5, 11)).astype(dtype)
    cu = device.backend("activations", "cuda")
    out, cache = getattr(cu, name + "_forward")(x, **kw)
    rout, rcache = getattr(ref, name + "_forward")(x, **kw)
    assert device.is_device_array(out) and out.dtype == dtype
    assert_close(out, rout)
    dx = getattr(cu, name + "_backward")(device.to_device(d, "cuda"), cache)
    assert_close(dx, getattr(ref, name + "_backward")(d, rcache))
    assert np.isnan(device.to_numpy(out).flat[1]) and np.isnan(device.to_numpy(dx).flat[1])
