"""embedding: every device and version against the reference, repeated ids accumulate,
finite differences, PyTorch parity, ids validated before any kernel."""
import numpy as np
import pytest
from helpers import assert_close, kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("embedding")
DEVICES = CASES + [pytest.param("reference", None, id="reference")]


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ids_shape,V,D", [((1,), 1, 1), ((7,), 5, 37), ((3, 11), 4, 18), ((2, 3, 2), 9, 5)])
def test_matches_reference(dev, version, dtype, ids_shape, V, D, rng):
    ids = rng.integers(0, V, size=ids_shape)            # small V: many repeated ids
    table = rng.standard_normal((V, D)).astype(dtype)
    dout = rng.standard_normal(ids_shape + (D,)).astype(dtype)
    with on(dev, "embedding", version):
        out, cache = ops.embedding_forward(ids, table)
        dtable = ops.embedding_backward(dout, cache)
    with on("reference"):
        want, rcache = ops.embedding_forward(ids, table)
        want_dt = ops.embedding_backward(dout, rcache)
    assert out.shape == ids_shape + (D,) and out.dtype == dtype and dtable.shape == (V, D)
    assert_close(out, want)
    assert_close(dtable, want_dt)


@pytest.mark.parametrize("dev,version", DEVICES)
def test_hand_worked_repeated_ids_accumulate(dev, version):
    table = np.arange(8.0).reshape(4, 2)
    ids = np.array([[3, 1], [3, 3]])
    dout = np.array([[[1.0, 2.0], [10.0, 20.0]], [[100.0, 200.0], [1000.0, 2000.0]]])
    with on(dev, "embedding", version):
        out, cache = ops.embedding_forward(ids, table)
        dtable = ops.embedding_backward(dout, cache)
    np.testing.assert_array_equal(td.device.to_numpy(out), [[[6, 7], [2, 3]], [[6, 7], [6, 7]]])
    # id 3 appears three times: 1 + 100 + 1000; id 1 once; ids 0 and 2 never
    np.testing.assert_array_equal(td.device.to_numpy(dtable), [[0, 0], [10, 20], [0, 0], [1101, 2202]])


def test_integral_float_ids_are_accepted():
    table = np.arange(6.0).reshape(3, 2)
    out, _ = ops.embedding_forward(np.array([2.0, 0.0]), table)
    np.testing.assert_array_equal(out, [[4, 5], [0, 1]])


def test_finite_differences(rng):
    ids = rng.integers(0, 4, size=(3, 5))
    for dev in ("reference", "cpu"):
        with on(dev):
            assert td.gradcheck((ops.embedding_forward, ops.embedding_backward),
                                [ids, rng.standard_normal((4, 3))])


@pytest.mark.torch
@pytest.mark.parametrize("dev,version", DEVICES)
def test_torch_parity(dev, version, rng):
    torch = pytest.importorskip("torch")
    ids = rng.integers(0, 6, size=(4, 7))
    table = rng.standard_normal((6, 5))
    dout = rng.standard_normal((4, 7, 5))
    with on(dev, "embedding", version):
        out, cache = ops.embedding_forward(ids, table)
        dtable = ops.embedding_backward(dout, cache)
    tw = torch.tensor(table, requires_grad=True)
    tout = torch.nn.functional.embedding(torch.tensor(ids), tw)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(td.device.to_numpy(out), tout.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(td.device.to_numpy(dtable), tw.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("ids,error,words", [
    (np.array([0, 4]), ValueError, ["[0, 4)", "4"]),
    (np.array([-1, 0]), ValueError, ["[0, 4)", "-1"]),
    (np.array([0.5]), TypeError, ["integers", "0.5"]),
    (np.array([np.nan]), TypeError, ["integers", "nan"]),
    (np.array(["a"]), TypeError, ["integer", "<U1"]),
    (np.array(2), ValueError, ["at least one axis"]),
])
def test_bad_ids_are_refused_before_any_kernel(monkeypatch, ids, error, words):
    monkeypatch.setattr(tinydl.device, "backend", lambda *a, **k: pytest.fail("kernel reached"))
    with pytest.raises(error) as err:
        ops.embedding_forward(ids, np.ones((4, 2)))
    for w in words:
        assert w in str(err.value)


def test_bad_table_and_dout_are_refused():
    with pytest.raises(ValueError, match="2-D"):
        ops.embedding_forward(np.array([0]), np.ones(4))
    _, cache = ops.embedding_forward(np.array([0, 1]), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(2, 3\)"):
        ops.embedding_backward(np.ones((2, 3)), cache)


def test_versions_table_matches_docstring():
    import re
    module = td.device.backend("embedding", "cpu")
    listed = sorted(int(v) for v in re.findall(r"^v(\d+) ", module.__doc__, re.M))
    assert listed == sorted(module.VERSIONS) and module.DEFAULT in module.VERSIONS
