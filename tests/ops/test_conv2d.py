"""conv2d: every device and version against the reference, a hand-worked 1-D case, finite
differences, PyTorch parity, the lesson plan's version list, views, uint8, bad input."""
import re

import numpy as np
import pytest
from helpers import TOL, assert_close, host, kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("conv2d")


@pytest.fixture
def no_kernel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was reached before the input was checked")
    monkeypatch.setattr(tinydl.device, "backend", refuse)


def _pass(x, w, b, dout, stride, padding):
    out, cache = ops.conv2d_forward(x, w, b, stride, padding)
    return (out, *ops.conv2d_backward(dout, cache))


def _random_case(rng):
    """A small convolution whose sizes divide no tile: (x, w, b, stride, padding)."""
    N, C, F = rng.integers(1, 4), rng.integers(1, 5), rng.integers(1, 6)
    H, W = rng.integers(1, 10, size=2)
    pad = tuple(int(p) for p in rng.integers(0, 3, size=4))
    KH = int(rng.integers(1, min(4, H + pad[0] + pad[1]) + 1))
    KW = int(rng.integers(1, min(4, W + pad[2] + pad[3]) + 1))
    stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C, KH, KW))
    b = rng.standard_normal(F) if rng.random() < 0.8 else None
    return x, w, b, stride, pad


def _check_against_reference(dev, version, x, w, b, stride, padding, rng, dtype=np.float64):
    """Compare every output of one forward+backward; float32 results are compared with the
    float64 reference of the same (float32-rounded) inputs."""
    x, w = x.astype(dtype), w.astype(dtype)
    b = None if b is None else b.astype(dtype)
    with on("reference"):
        probe, _ = ops.conv2d_forward(x, w, b, stride, padding)
    dout = rng.standard_normal(probe.shape).astype(dtype)
    with on(dev, "conv2d", version):
        got = _pass(x, w, b, dout, stride, padding)
    with on("reference"):
        want = _pass(*(None if a is None else a.astype(np.float64) for a in (x, w, b, dout)), stride, padding)
    for name, g, e in zip(("out", "dx", "dw", "db"), got, want, strict=True):
        if e is None:
            assert g is None, name
            continue
        assert g.shape == e.shape and g.dtype == np.dtype(dtype), name
        assert_close(g, e.astype(dtype), dtype)
    return got


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("seed", range(12))
def test_random_shapes_match_reference(dev, version, seed):
    rng = np.random.default_rng(seed)
    _check_against_reference(dev, version, *_random_case(rng), rng)


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,filters,k,stride,padding", [
    ((1, 3, 13, 7), 5, 3, 1, 1),                 # batch 1, odd sizes
    ((3, 5, 9, 11), 7, (3, 2), (2, 1), (1, 0)),  # rectangular kernel, mixed stride
    ((2, 4, 8, 8), 6, 3, 2, (0, 1, 0, 1)),       # Keras 'same' at stride 2: extra pad bottom/right
    ((2, 3, 6, 6), 4, 1, 1, 0),                  # 1x1
    ((2, 2, 5, 5), 3, 5, 1, 2),                  # kernel as large as the input
    ((2, 16, 7, 9), 17, 3, 1, 1),                # v6's Winograd path: odd sizes, partial tiles
    ((1, 17, 6, 5), 16, 3, 1, (2, 0, 1, 2)),     # Winograd with asymmetric padding
    ((3, 16, 5, 4), 16, 3, 1, 0),                # Winograd, 'valid'
])
def test_named_shapes_match_reference(dev, version, dtype, shape, filters, k, stride, padding, rng):
    kh, kw = (k, k) if isinstance(k, int) else k
    x = rng.standard_normal(shape)
    w = rng.standard_normal((filters, shape[1], kh, kw))
    b = rng.standard_normal(filters)
    out, dx, dw, db = _check_against_reference(dev, version, x, w, b, stride, padding, rng, dtype)
    assert dx.shape == shape and dw.shape == w.shape and db.shape == (filters,)


@pytest.mark.parametrize("dev,version", CASES)
def test_outliers(dev, version, rng):
    x = rng.standard_normal((2, 3, 7, 6)) * 1e4
    w = rng.standard_normal((4, 3, 3, 3)) * 1e-3
    _check_against_reference(dev, version, x, w, rng.standard_normal(4) * 1e3, 1, 1, rng)


@pytest.mark.parametrize("dev,version", CASES)
def test_gradients_are_fresh_and_survive_the_next_call(dev, version, rng):
    # v4 keeps scratch workspaces between calls; nothing it returns may live in them
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    dout = rng.standard_normal((2, 4, 6, 6)).astype(np.float32)
    with on(dev, "conv2d", version):
        first = _pass(x, w, b, dout, 1, 1)
        kept = [a.copy() for a in first]
        _pass(x * 3, w * 2, b, dout * 5, 1, 1)
    for a, k in zip(first, kept, strict=True):
        np.testing.assert_array_equal(a, k)
    for g in first[1:]:
        assert not any(np.shares_memory(g, a) for a in (x, w, b, dout))


@pytest.mark.parametrize("dev,version", [("reference", None)] + [(c.values[0], c.values[1]) for c in CASES])
@pytest.mark.parametrize("padding,out,dw,dx", [
    # signal s = [1, 3, 2, 4] (1x4), kernel [1, 1, -1] (1x3), no flip: out[j] = s[j] + s[j+1] - s[j+2]
    (0, [2, 1], [4, 5, 6], [1, 2, 0, -1]),
    (1, [-2, 2, 1, 6], [6, 10, 9], [2, 1, 1, 0]),           # s padded: [0, 1, 3, 2, 4, 0]
    (2, [-1, -2, 2, 1, 6, 4], [10, 10, 10], [1, 1, 1, 1]),  # s padded: [0, 0, 1, 3, 2, 4, 0, 0]
])
def test_hand_worked_1d(dev, version, padding, out, dw, dx):
    # with dout = 1 everywhere: dw[q] = the sum of what tap q saw, dx[k] = the sum of the taps
    # that touched s[k]; db = the number of outputs
    x = np.array([1.0, 3.0, 2.0, 4.0]).reshape(1, 1, 1, 4)
    w = np.array([1.0, 1.0, -1.0]).reshape(1, 1, 1, 3)
    with on(dev, "conv2d", version):
        got, cache = ops.conv2d_forward(x, w, np.zeros(1), 1, (0, padding))
        gdx, gdw, gdb = ops.conv2d_backward(np.ones_like(got), cache)
    np.testing.assert_array_equal(got.ravel(), out)
    np.testing.assert_array_equal(gdw.ravel(), dw)
    np.testing.assert_array_equal(gdx.ravel(), dx)
    np.testing.assert_array_equal(gdb, [len(out)])


def test_no_bias_gives_no_db(rng):
    x, w = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3))
    out, cache = ops.conv2d_forward(x, w, None)
    assert ops.conv2d_backward(np.ones_like(out), cache)[2] is None


def test_finite_differences_on_the_reference(rng):
    x = rng.standard_normal((2, 2, 5, 4))
    w = rng.standard_normal((3, 2, 3, 2))
    b = rng.standard_normal(3)
    with on("reference"):
        assert td.gradcheck((ops.conv2d_forward, ops.conv2d_backward), [x, w, b],
                            kwargs=dict(stride=(2, 1), padding=(1, 0, 2, 1)))
        assert td.gradcheck((ops.conv2d_forward, ops.conv2d_backward), [x, w, b],
                            kwargs=dict(stride=1, padding=1))


@pytest.mark.parametrize("dev,version", CASES)
def test_views_equal_contiguous_copies(dev, version, rng):
    big = rng.standard_normal((3, 6, 11, 9))
    x = big[::2, 1::2, :, ::-1]                                       # strided, reversed view
    w = rng.standard_normal((3, 3, 4, 5)).transpose(0, 1, 3, 2)[:, :, ::2]  # (3, 3, 3, 4) view
    b = rng.standard_normal(6)[::2]
    with on(dev, "conv2d", version):
        a = _pass(x, w, b, np.ones((2, 3, 6, 4)), 2, 1)
        c = _pass(*(np.ascontiguousarray(t) for t in (x, w, b)), np.ones((2, 3, 6, 4)), 2, 1)
    for g, e in zip(a, c, strict=True):
        np.testing.assert_array_equal(g, e)


def test_uint8_images_become_float32(rng):
    x = rng.integers(0, 256, size=(2, 3, 8, 8), dtype=np.uint8)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    out, _ = ops.conv2d_forward(x, w, None, 1, 1)
    assert out.dtype == np.float32
    with on("reference"):
        want, _ = ops.conv2d_forward(x.astype(np.float64), w.astype(np.float64), None, 1, 1)
    assert_close(out, want.astype(np.float32), np.float32)


# -- PyTorch parity -------------------------------------------------------------------------
def _torch_conv(x, w, b, stride, pad, dout):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    pt, pb, pl, pr = pad
    out = F.conv2d(F.pad(xt, (pl, pr, pt, pb)), wt, bt, stride=stride)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), None if b is None else bt.grad.numpy()


@pytest.mark.torch
@pytest.mark.parametrize("seed", range(24))
def test_torch_parity_float64(seed):
    pytest.importorskip("torch")
    rng = np.random.default_rng(100 + seed)
    x, w, b, stride, pad = _random_case(rng)
    with on("reference"):
        probe, _ = ops.conv2d_forward(x, w, b, stride, pad)
    dout = rng.standard_normal(probe.shape)
    got = _pass(x, w, b, dout, stride, pad)
    want = _torch_conv(x, w, b, stride, pad, dout)
    for g, e in zip(got, want, strict=True):
        if e is None:
            assert g is None
        else:
            np.testing.assert_allclose(g, e, **TOL[np.dtype(np.float64)])


@pytest.mark.torch
@pytest.mark.parametrize("C,F,H,stride", [(3, 16, 32, 1), (32, 64, 16, 1), (64, 32, 8, 2)])
def test_torch_parity_float32_cifar_sizes(C, F, H, stride, rng):
    pytest.importorskip("torch")
    x = rng.standard_normal((4, C, H, H)).astype(np.float32)
    w = (rng.standard_normal((F, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32)
    b = rng.standard_normal(F).astype(np.float32)
    pad = (1, 1, 1, 1) if stride == 1 else (0, 1, 0, 1)
    OH = (H + pad[0] + pad[1] - 3) // stride + 1
    dout = rng.standard_normal((4, F, OH, OH)).astype(np.float32)
    got = _pass(x, w, b, dout, stride, pad)
    want = _torch_conv(x, w, b, stride, pad, dout)
    for g, e in zip(got, want, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4 * np.abs(e).max())


# -- the lesson plan and bad input ---------------------------------------------------------
def test_versions_match_the_lesson_plan():
    module = td.device.backend("conv2d", "cpu")
    listed = sorted(int(v) for v in re.findall(r"^v(\d+) ", module.__doc__, re.M))
    assert listed == sorted(module.VERSIONS) and module.DEFAULT in module.VERSIONS


@pytest.mark.parametrize("xshape,wshape,kw,expected,received", [
    ((2, 3, 8, 8), (4, 2, 3, 3), {}, "2 input channels", "3 channels"),
    ((1, 1, 4, 4), (1, 1, 5, 5), {}, "KH <= 4", "kernel 5x5"),
    ((1, 1, 4, 4), (1, 1, 7, 3), {"padding": 1}, "KH <= 6", "kernel 7x3"),
    ((1, 1, 4, 4), (1, 1, 3, 3), {"stride": 0}, "int >= 1", "stride=0"),
    ((1, 1, 4, 4), (1, 1, 3, 3), {"stride": (1, 0)}, "int >= 1", "stride=(1, 0)"),
    ((1, 1, 4, 4), (1, 1, 3, 3), {"padding": -1}, "ints >= 0", "padding=-1"),
    ((1, 1, 4, 4), (1, 1, 3, 3), {"padding": (0, 0, 1, -1)}, "ints >= 0", "padding=(0, 0, 1, -1)"),
    ((1, 1, 4, 4), (1, 1, 3, 3), {"padding": "same"}, "int >= 0", "padding='same'"),
    ((1, 4, 4), (1, 1, 3, 3), {}, "4-D", "(1, 4, 4)"),
])
def test_bad_input_fails_before_any_kernel(no_kernel, xshape, wshape, kw, expected, received):
    with pytest.raises(ValueError) as err:
        ops.conv2d_forward(np.zeros(xshape), np.zeros(wshape), None, **kw)
    assert expected in str(err.value) and received in str(err.value)


def test_bad_bias_and_dtype_fail_before_any_kernel(no_kernel):
    x, w = np.zeros((1, 2, 4, 4)), np.zeros((3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"must have shape \(3,\); received \(2,\)"):
        ops.conv2d_forward(x, w, np.zeros(2))
    with pytest.raises(TypeError, match="float64; received float32"):
        ops.conv2d_forward(x, w.astype(np.float32), None)


def test_backward_checks_dout(rng):
    out, cache = ops.conv2d_forward(rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3)), None)
    with pytest.raises(ValueError, match=r"\(1, 3, 2, 2\); received \(1, 3, 2, 3\)"):
        ops.conv2d_backward(np.zeros((1, 3, 2, 3)), cache)


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("shape,filters,stride,padding", [
    ((3, 2, 17, 16), 4, 1, 1),           # 272 pixels: v7's per-image path
    ((2, 5, 7, 9), 6, (2, 1), (1, 0)),   # small images: v7 runs v5's chunked path
])
def test_without_dx_the_weight_gradients_are_the_same(dev, version, shape, filters, stride, padding, rng):
    # need_dx=False (the model's data needs no gradient) skips dx, and only dx
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((filters, shape[1], 3, 3)).astype(np.float32)
    b = rng.standard_normal(filters).astype(np.float32)
    with on(dev, "conv2d", version):
        out, cache = ops.conv2d_forward(x, w, b, stride, padding)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        _, dw, db = ops.conv2d_backward(dout, cache)
        none, dw2, db2 = ops.conv2d_backward(dout, cache, need_dx=False)
        _, dw3, db3 = ops.conv2d_backward(dout, ops.conv2d_forward(x, w, None, stride, padding)[1], need_dx=False)
    assert none is None and db3 is None
    for a, e in ((dw2, dw), (db2, db), (dw3, dw)):
        np.testing.assert_array_equal(host(a), host(e))


# -- v9: Winograd in blocks of tiles ---------------------------------------------------------
@pytest.mark.parametrize("block_tiles", [1, 3, 7, 10_000])
@pytest.mark.parametrize("shape,filters,padding", [
    ((3, 16, 9, 7), 18, 1),              # odd sizes: the last tile row and column are partial
    ((5, 17, 4, 4), 16, (2, 0, 0, 2)),   # small images: a block spans several images
    ((2, 16, 3, 10), 20, 0),             # 'valid': one tile row per image
])
def test_v9_blocks_may_split_anywhere(monkeypatch, block_tiles, shape, filters, padding, rng):
    # blocks of 1 tile (one tile row each) up to the whole batch in one block give the
    # reference's values, and v9 really ran Winograd for them (the forward), here at image
    # sizes where it would not by default
    from tinydl.kernels.cpu import _winograd_tiled
    from tinydl.kernels.cpu import conv2d as cpu_conv2d
    monkeypatch.setattr(_winograd_tiled, "BLOCK_TILES", block_tiles)
    monkeypatch.setattr(cpu_conv2d, "WINOGRAD_MIN_PIXELS", 1)
    _check_v9_runs_winograd(monkeypatch, shape, filters, padding, rng, calls=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,filters,padding,calls", [
    ((2, 16, 15, 14), 16, 1, 1),         # 210 output pixels: Winograd by default
    ((2, 16, 8, 8), 16, 1, 0),           # 64: v7 (Winograd lost at 8x8)
    ((2, 8, 16, 16), 16, 1, 0),          # 8 input channels: v7
])
def test_v9_chooses_winograd_by_size(monkeypatch, dtype, shape, filters, padding, calls, rng):
    _check_v9_runs_winograd(monkeypatch, shape, filters, padding, rng, calls, dtype)


def _check_v9_runs_winograd(monkeypatch, shape, filters, padding, rng, calls, dtype=np.float64):
    from tinydl.kernels.cpu import _winograd_tiled
    ran = []
    conv3x3 = _winograd_tiled.conv3x3
    monkeypatch.setattr(_winograd_tiled, "conv3x3", lambda *a, **k: ran.append(1) or conv3x3(*a, **k))
    x = rng.standard_normal(shape)
    w = rng.standard_normal((filters, shape[1], 3, 3))
    _check_against_reference("cpu", 9, x, w, rng.standard_normal(filters), 1, padding, rng, dtype)
    assert len(ran) == calls
