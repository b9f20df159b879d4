"""Max / average / global average pooling: every version against the reference, hand-worked
values, PyTorch's tie rule, finite differences, PyTorch parity, the lesson plan, bad input."""
import re

import numpy as np
import pytest
from helpers import TOL, assert_close, kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("pool2d")
KINDS = {
    "max": (ops.maxpool2d_forward, ops.maxpool2d_backward),
    "avg": (ops.avgpool2d_forward, ops.avgpool2d_backward),
}


@pytest.fixture
def no_kernel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was reached before the input was checked")
    monkeypatch.setattr(tinydl.device, "backend", refuse)


def _pass(kind, x, dout, **kw):
    fwd, bwd = KINDS[kind]
    out, cache = fwd(x, **kw)
    return out, bwd(dout, cache)


def _random_case(rng):
    N, C = rng.integers(1, 4), rng.integers(1, 5)
    pool = tuple(int(p) for p in rng.integers(1, 4, size=2))
    pad = tuple(int(rng.integers(0, pool[k // 2])) for k in range(4))   # each side < pool
    H = int(rng.integers(max(1, pool[0] - pad[0] - pad[1]), 10))
    W = int(rng.integers(max(1, pool[1] - pad[2] - pad[3]), 10))
    stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
    return rng.standard_normal((N, C, H, W)), dict(pool_size=pool, stride=stride, padding=pad)


def _compare(dev, version, kind, x, kw, rng, dtype=np.float64):
    x = x.astype(dtype)
    with on("reference"):
        probe, _ = KINDS[kind][0](x, **kw)
    dout = rng.standard_normal(probe.shape).astype(dtype)
    with on(dev, "pool2d", version):
        got = _pass(kind, x, dout, **kw)
    with on("reference"):
        want = _pass(kind, x.astype(np.float64), dout.astype(np.float64), **kw)
    for g, e in zip(got, want, strict=True):
        assert g.shape == e.shape and g.dtype == np.dtype(dtype)
        assert_close(g, e.astype(dtype), dtype)
    return got


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("seed", range(10))
def test_random_shapes_match_reference(dev, version, kind, seed):
    rng = np.random.default_rng(seed)
    x, kw = _random_case(rng)
    _compare(dev, version, kind, x, kw, rng)


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kw", [
    ((1, 3, 7, 13), dict(pool_size=2)),                                  # odd sizes drop the edge
    ((3, 5, 9, 9), dict(pool_size=3, stride=2)),                         # overlapping windows
    ((2, 4, 7, 7), dict(pool_size=2, stride=2, padding=(0, 1, 0, 1))),   # Keras 'same'
    ((2, 2, 6, 5), dict(pool_size=(3, 2), stride=(1, 2), padding=(1, 1, 1, 0))),
])
def test_named_shapes_match_reference(dev, version, kind, dtype, shape, kw, rng):
    _compare(dev, version, kind, rng.standard_normal(shape), kw, rng, dtype)


@pytest.mark.parametrize("dev,version", CASES)
def test_outliers(dev, version, rng):
    x = rng.standard_normal((2, 3, 8, 8)) * 1e6
    for kind in ("max", "avg"):
        _compare(dev, version, kind, x, dict(pool_size=3, stride=2, padding=1), rng)


@pytest.mark.parametrize("dev,version", [("reference", None)] + [(c.values[0], c.values[1]) for c in CASES])
def test_hand_worked_values_and_first_max_tie_rule(dev, version):
    x = np.array([[1.0, 5.0, 2.0, 0.0],
                  [5.0, 3.0, 7.0, 7.0],
                  [0.0, 0.0, 4.0, 1.0]]).reshape(1, 1, 3, 4)
    with on(dev, "pool2d", version):
        out, cache = ops.maxpool2d_forward(x, 2)       # one row of windows; the last row drops
        dx = ops.maxpool2d_backward(np.array([[[[10.0, 20.0]]]]), cache)
        avg, acache = ops.avgpool2d_forward(x, 2, 2, (0, 1, 0, 0))   # 'same': bottom row padded
        adx = ops.avgpool2d_backward(np.ones((1, 1, 2, 2)), acache)
    np.testing.assert_array_equal(out.ravel(), [5.0, 7.0])
    # ties: 5 at (0,1) and (1,0) -> the first in row-major order, (0,1); 7 at (1,2) and (1,3) -> (1,2)
    np.testing.assert_array_equal(dx[0, 0], [[0, 10, 0, 0], [0, 0, 20, 0], [0, 0, 0, 0]])
    # the bottom windows hold one real row: divided by 2, not 4
    np.testing.assert_array_equal(avg.ravel(), [3.5, 4.0, 0.0, 2.5])
    np.testing.assert_array_equal(adx[0, 0], [[.25, .25, .25, .25], [.25, .25, .25, .25], [.5, .5, .5, .5]])


@pytest.mark.parametrize("dev,version", CASES)
def test_all_equal_window_sends_gradient_to_its_first_element(dev, version):
    x = np.ones((1, 1, 3, 3))
    with on(dev, "pool2d", version):
        out, cache = ops.maxpool2d_forward(x, 2, 1)
        dx = ops.maxpool2d_backward(np.ones((1, 1, 2, 2)), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize("dev,version", CASES)
def test_global_average_pooling(dev, version, rng):
    x = rng.standard_normal((3, 5, 7, 6))
    dout = rng.standard_normal((3, 5))
    with on(dev):
        out, cache = ops.global_avgpool2d_forward(x)
        dx = ops.global_avgpool2d_backward(dout, cache)
    assert_close(out, x.mean(axis=(2, 3)))
    assert_close(dx, np.broadcast_to(dout[:, :, None, None] / 42, x.shape))


def test_finite_differences_on_the_reference(rng):
    x = rng.standard_normal((2, 2, 5, 6))
    with on("reference"):
        for fwd, bwd in KINDS.values():
            assert td.gradcheck((fwd, bwd), [x], kwargs=dict(pool_size=3, stride=2, padding=1))
            assert td.gradcheck((fwd, bwd), [x], kwargs=dict(pool_size=(2, 3), stride=1))
        assert td.gradcheck((ops.global_avgpool2d_forward, ops.global_avgpool2d_backward), [x])


@pytest.mark.parametrize("dev,version", CASES)
def test_views_equal_contiguous_copies(dev, version, rng):
    x = rng.standard_normal((4, 6, 9, 10))[::2, ::-2, 1:, ::2]
    with on(dev, "pool2d", version):
        for kind in ("max", "avg"):
            a = _pass(kind, x, np.ones((2, 3, 4, 2)), pool_size=2)
            b = _pass(kind, np.ascontiguousarray(x), np.ones((2, 3, 4, 2)), pool_size=2)
            for g, e in zip(a, b, strict=True):
                np.testing.assert_array_equal(g, e)


def test_uint8_images_become_float32(rng):
    x = rng.integers(0, 256, size=(2, 3, 6, 6), dtype=np.uint8)
    out, _ = ops.maxpool2d_forward(x, 2)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x.reshape(2, 3, 3, 2, 3, 2).max(axis=(3, 5)))


# -- PyTorch parity -------------------------------------------------------------------------
def _torch_pool(kind, x, dout, pool_size, stride, padding):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    xt = torch.tensor(x, requires_grad=True)
    pt, pb, pl, pr = padding
    if kind == "max":
        out = F.max_pool2d(F.pad(xt, (pl, pr, pt, pb), value=-np.inf), pool_size, stride)
    else:   # the average of the valid elements: sum of windows / count of real elements
        ones = torch.ones((1, 1) + x.shape[2:], dtype=xt.dtype)
        total = F.avg_pool2d(F.pad(xt, (pl, pr, pt, pb)), pool_size, stride, divisor_override=1)
        count = F.avg_pool2d(F.pad(ones, (pl, pr, pt, pb)), pool_size, stride, divisor_override=1)
        out = total / count
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy()


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("seed", range(12))
def test_torch_parity_float64(kind, seed):
    pytest.importorskip("torch")
    rng = np.random.default_rng(200 + seed)
    x, kw = _random_case(rng)
    kw = dict(pool_size=kw["pool_size"], stride=kw["stride"], padding=kw["padding"])
    with on("reference"):
        probe, _ = KINDS[kind][0](x, **kw)
    dout = rng.standard_normal(probe.shape)
    got = _pass(kind, x, dout, **kw)
    for g, e in zip(got, _torch_pool(kind, x, dout, **kw), strict=True):
        np.testing.assert_allclose(g, e, **TOL[np.dtype(np.float64)])


@pytest.mark.torch
def test_torch_parity_ties_and_cifar_float32(rng):
    torch = pytest.importorskip("torch")
    x = rng.integers(0, 3, size=(8, 64, 32, 32)).astype(np.float32)   # many ties
    dout = rng.standard_normal((8, 64, 16, 16)).astype(np.float32)
    out, dx = _pass("max", x, dout, pool_size=2)
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 2).backward(torch.tensor(dout))
    np.testing.assert_array_equal(dx, xt.grad.numpy())
    x = rng.standard_normal((8, 64, 32, 32)).astype(np.float32)
    for kind in ("max", "avg"):
        got = _pass(kind, x, dout, pool_size=2, stride=2, padding=0)
        for g, e in zip(got, _torch_pool(kind, x, dout, 2, 2, (0, 0, 0, 0)), strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-6)


# -- the lesson plan and bad input ---------------------------------------------------------
def test_versions_match_the_lesson_plan():
    module = td.device.backend("pool2d", "cpu")
    listed = sorted(int(v) for v in re.findall(r"^v(\d+) ", module.__doc__, re.M))
    assert listed == sorted(module.VERSIONS) and module.DEFAULT in module.VERSIONS


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("xshape,kw,expected,received", [
    ((1, 1, 4, 4), {"pool_size": 0}, "int >= 1", "pool_size=0"),
    ((1, 1, 4, 4), {"pool_size": 2, "stride": 0}, "int >= 1", "stride=0"),
    ((1, 1, 4, 4), {"pool_size": 2, "padding": -1}, "ints >= 0", "padding=-1"),
    ((1, 1, 4, 4), {"pool_size": 2, "padding": 2}, "< 2", "padding (2, 2, 2, 2)"),
    ((1, 1, 4, 4), {"pool_size": 5}, "at most (4, 4)", "pool_size (5, 5)"),
    ((1, 4, 4), {"pool_size": 2}, "4-D", "(1, 4, 4)"),
    ((1, 1, 4, 4), {"pool_size": 2, "padding": "same"}, "ints >= 0", "padding='same'"),
])
def test_bad_input_fails_before_any_kernel(no_kernel, kind, xshape, kw, expected, received):
    with pytest.raises(ValueError) as err:
        KINDS[kind][0](np.zeros(xshape), **kw)
    assert expected in str(err.value) and received in str(err.value)
