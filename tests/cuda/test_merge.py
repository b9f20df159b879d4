"""CUDA merge ops (add, average, multiply, concatenate) against the NumPy reference, through the
op layer: the cache names cuda, and its backward runs there even when cpu is active by then."""
import numpy as np
import pytest
from helpers import assert_close

from tinydl import device
from tinydl.ops import merge

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]


def _run(dev, op, xs, **kw):
    with device.using(dev):
        out, cache = getattr(merge, f"{op}_forward")(xs, **kw)
    dout = np.random.default_rng(1).standard_normal(cache.shape).astype(xs[0].dtype)
    with device.using("cpu"):      # the backward follows the cache, not the active device
        grads = getattr(merge, f"{op}_backward")(dout, cache)
    return cache, out, grads


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op,kw,shapes", [
    ("add", {}, [(3, 5, 11)] * 3),
    ("average", {}, [(3, 5, 11)] * 2),
    ("multiply", {}, [(3, 5, 11)] * 3),
    ("concatenate", {"axis": -1}, [(2, 3, 4), (2, 3, 1), (2, 3, 2)]),
    ("concatenate", {"axis": 1}, [(2, 3, 4), (2, 1, 4)]),
])
def test_matches_reference(dtype, op, kw, shapes):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    cache, out, grads = _run("cuda", op, xs, **kw)
    assert cache.device == "cuda" and device.is_device_array(out)
    _, rout, rgrads = _run("reference", op, xs, **kw)
    assert_close(out, rout)
    assert len(grads) == len(rgrads) == len(xs)
    for g, w, x in zip(grads, rgrads, xs, strict=True):
        assert device.is_device_array(g) and tuple(g.shape) == x.shape
        assert_close(g, w)
