"""CUDA embedding against the NumPy reference (tiny shapes): gather, and the atomic scatter-add
with many repeated ids."""
import numpy as np
import pytest
from helpers import assert_close

from tinydl import device
from tinydl.kernels.reference import embedding as ref

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ids_shape,V,D", [((7,), 3, 5), ((3, 11), 4, 6)])
def test_matches_reference(rng, dtype, ids_shape, V, D):
    cu = device.backend("embedding", "cuda")
    ids = rng.integers(0, V, size=ids_shape)
    table = rng.standard_normal((V, D)).astype(dtype)
    out, cache = cu.embedding_forward(ids, table)
    rout, rcache = ref.embedding_forward(ids, table)
    assert device.is_device_array(out) and out.dtype == dtype
    assert_close(out, rout)
    d = rng.standard_normal(rout.shape).astype(dtype)
    assert_close(cu.embedding_backward(device.to_device(d, "cuda"), cache), ref.embedding_backward(d, rcache))
