"""Merge ops and layers (Add, Multiply, Average, Concatenate): every device against the
reference, hand-worked values, gradcheck, bad input refused before any kernel."""
import numpy as np
import pytest
from helpers import assert_close, kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import layers
from tinydl.ops import merge

CASES = kernel_cases("merge")
DTYPES = [np.float32, np.float64]


def _inputs(rng, shape, n, dtype):
    return [rng.standard_normal(shape).astype(dtype) for _ in range(n)]


def _both(dev, fn, *args):
    with on(dev):
        got = fn(*args)
    with on("reference"):
        want = fn(*args)
    return got, want


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["add", "multiply", "average"])
def test_elementwise_merges_match_reference_forward_and_backward(dev, version, dtype, op, rng):
    xs = _inputs(rng, (3, 2, 5), 3, dtype)
    dout = rng.standard_normal((3, 2, 5)).astype(dtype)
    fwd, bwd = getattr(merge, f"{op}_forward"), getattr(merge, f"{op}_backward")

    def run(*_):
        out, cache = fwd(xs)
        return [out] + list(bwd(dout, cache))

    got, want = _both(dev, run)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == dtype
        assert_close(g, w, dtype)


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis,shapes", [(1, [(2, 3, 4, 4), (2, 5, 4, 4)]), (-1, [(4, 2), (4, 7), (4, 1)]),
                                         (2, [(2, 3, 1), (2, 3, 6)])])
def test_concatenate_matches_reference_forward_and_backward(dev, version, dtype, axis, shapes, rng):
    xs = [rng.standard_normal(s).astype(dtype) for s in shapes]

    def run(*_):
        out, cache = merge.concatenate_forward(xs, axis)
        dout = td.to_numpy(out) * 2 + 1
        return [out] + list(merge.concatenate_backward(dout.astype(dtype), cache))

    got, want = _both(dev, run)
    np.testing.assert_array_equal(td.to_numpy(got[0]), np.concatenate(xs, axis=axis))
    for g, w, x in zip(got[1:], want[1:], xs, strict=True):
        assert g.shape == x.shape
        assert_close(g, w, dtype)
        np.testing.assert_array_equal(td.to_numpy(g), x * 2 + 1)


def test_hand_worked_values():
    a, b = np.array([[1.0, 2.0]]), np.array([[3.0, -4.0]])
    out, cache = merge.multiply_forward([a, b])
    np.testing.assert_array_equal(out, [[3.0, -8.0]])
    da, db = merge.multiply_backward(np.array([[1.0, 10.0]]), cache)
    np.testing.assert_array_equal(da, [[3.0, -40.0]])      # dout * b
    np.testing.assert_array_equal(db, [[1.0, 20.0]])       # dout * a
    out, cache = merge.average_forward([a, b])
    np.testing.assert_array_equal(out, [[2.0, -1.0]])
    np.testing.assert_array_equal(merge.average_backward(np.array([[2.0, 4.0]]), cache)[1], [[1.0, 2.0]])
    out, cache = merge.add_forward([a, b, a])
    np.testing.assert_array_equal(out, [[5.0, 0.0]])
    grads = merge.add_backward(np.array([[1.0, 1.0]]), cache)
    assert len(grads) == 3 and len({id(g) for g in grads}) == 3   # fresh arrays, none shared


@pytest.fixture
def no_kernel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was reached before the input was checked")
    monkeypatch.setattr(tinydl.device, "backend", refuse)


@pytest.mark.parametrize("call, message", [
    (lambda: merge.add_forward([np.zeros((2, 3))]), "at least 2 arrays"),
    (lambda: merge.add_forward(np.zeros((2, 3))), "at least 2 arrays"),
    (lambda: merge.multiply_forward([np.zeros((2, 3)), np.zeros((2, 4))]), "one shape"),
    (lambda: merge.average_forward([np.zeros((2, 3)), np.zeros((2, 3), np.float32)]), "dtype"),
    (lambda: merge.concatenate_forward([np.zeros((2, 3)), np.zeros((3, 3))], 1), "equal on every other axis"),
    (lambda: merge.concatenate_forward([np.zeros((2, 3)), np.zeros((2, 3))], 0), "non-batch axis"),
    (lambda: merge.concatenate_forward([np.zeros((2, 3)), np.zeros((2, 3))], 2), "non-batch axis"),
    (lambda: merge.concatenate_forward([np.zeros((2, 3)), np.zeros((2, 3, 1))], 1), "equal on every other axis"),
])
def test_bad_input_is_refused_before_any_kernel(no_kernel, call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_a_foreign_cache_is_refused():
    _, cache = merge.add_forward([np.zeros((1, 2)), np.zeros((1, 2))])
    with pytest.raises(TypeError, match="concatenate_backward needs the cache returned by concatenate_forward"):
        merge.concatenate_backward(np.zeros((1, 2)), cache)
    with pytest.raises(ValueError, match="shape"):
        merge.add_backward(np.zeros((1, 3)), cache)


@pytest.mark.parametrize("layer", [layers.Add(), layers.Multiply(), layers.Average(),
                                   layers.Concatenate(axis=1), layers.Concatenate(axis=-1)])
def test_gradcheck_every_merge_layer(layer, rng):
    xs = [rng.standard_normal((2, 3, 4)) for _ in range(3)]
    assert td.gradcheck(layer, xs)


def test_functional_forms_and_symbolic_shapes():
    a, b = td.Input((3, 4, 4)), td.Input((5, 4, 4))
    assert layers.concatenate([a, b], axis=1).shape == (None, 8, 4, 4)
    assert layers.add([a, a]).shape == (None, 3, 4, 4)
    assert layers.multiply([b, b]).shape == (None, 5, 4, 4)
    assert layers.average([a, a, a]).shape == (None, 3, 4, 4)
    with pytest.raises(ValueError, match=r"one shape; input 0 has \(None, 3, 4, 4\), input 1 has \(None, 5, 4, 4\)"):
        layers.Add()([a, b])
    with pytest.raises(ValueError, match="every axis but axis 2"):
        layers.Concatenate(axis=2)([a, b])
    with pytest.raises(ValueError, match="at least 2 inputs"):
        layers.Add()([a])
    with pytest.raises(ValueError, match="axis must be a non-zero int"):
        layers.Concatenate(axis=0)


@pytest.mark.cuda
def test_a_graph_with_merges_on_cuda_matches_cpu(rng):
    if not tinydl.device.cuda_available():
        pytest.skip("no CUDA device or simulator")
    a, b = td.Input((3,)), td.Input((2,))
    h = layers.Concatenate()([layers.Dense(4)(a), b])
    h = layers.Add()([h, layers.Multiply()([h, h])])
    out = layers.Dense(2)(layers.Average()([h, h]))
    model = td.Model([a, b], out)
    xa, xb = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    dout = rng.standard_normal((4, 2)).astype(np.float32)
    want = model([xa, xb], training=True)
    want_dx = model.backward(dout)
    want_g = [p.grad.copy() for p in model.trainable_weights]
    model.zero_grad()
    model.to("cuda")
    got = model([xa, xb], training=True)
    got_dx = model.backward(dout)
    assert_close(got, want, np.float32)
    for g, w in zip(got_dx, want_dx, strict=True):
        assert_close(g, w, np.float32)
    for p, w in zip(model.trainable_weights, want_g, strict=True):
        assert_close(p.grad, w, np.float32)


def test_merge_kernel_modules_share_names_and_signatures():
    import importlib
    import inspect

    mods = {d: importlib.import_module(f"tinydl.kernels.{d}.merge") for d in ("reference", "cpu", "cuda")}

    def api(m):
        # its own functions and the op pairs kernels/_merge_pairs.py built from them
        own = (m.__name__, "tinydl.kernels._merge_pairs")
        return {n: list(inspect.signature(f).parameters) for n, f in inspect.getmembers(m, inspect.isfunction)
                if f.__module__ in own and not n.startswith("_")}
    assert api(mods["reference"]) == api(mods["cpu"]) == api(mods["cuda"])
    pairs = {f"{op}_{way}" for op in ("add", "average", "multiply", "concatenate") for way in ("forward", "backward")}
    assert set(api(mods["reference"])) == {"multiply", "scale", "concat", "split"} | pairs
