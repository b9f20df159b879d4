"""Dropout: the counter-based mask is identical across devices and calls, changes with the seed,
keeps about 1 - rate of the values scaled by 1/(1 - rate); identity in inference; finite
differences; bad input."""
import numpy as np
import pytest
from helpers import kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("dropout")
DTYPES = [np.float32, np.float64]
MASK64 = (1 << 64) - 1


def _splitmix_uniform(seed, i):
    """The mask's hash in plain Python integers, written from the reference docstring."""
    def mix(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)
    z = mix((mix(seed) + (i + 1) * 0x9E3779B97F4A7C15) & MASK64)
    return (z >> 11) / 2.0 ** 53


def _pass(x, rate, seed, dout, training=True):
    out, cache = ops.dropout_forward(x, rate, seed, training=training)
    return out, ops.dropout_backward(dout, cache)


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 7), (33, 13), (2, 3, 5)])
@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_same_seed_same_mask_as_reference(dev, version, dtype, shape, rate, rng):
    x = rng.standard_normal(shape).astype(dtype) + 5      # no zeros in x: zeros in out = dropped
    dout = rng.standard_normal(shape).astype(dtype) + 5
    seed = 987654321
    with on(dev, "dropout", version):
        out, dx = _pass(x, rate, seed, dout)
        again, _ = _pass(x, rate, seed, dout)
    with on("reference"):
        want, want_dx = _pass(x, rate, seed, dout)
    assert out.dtype == dtype and dx.dtype == dtype
    np.testing.assert_array_equal(out, want)              # bit-identical
    np.testing.assert_array_equal(dx, want_dx)
    np.testing.assert_array_equal(again, out)
    np.testing.assert_array_equal(out == 0, dx == 0)      # backward uses the forward's mask
    assert not np.shares_memory(dx, dout)


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_mask_is_the_documented_hash(dev):
    seed, rate = 2**63 + 12345, 0.5                        # a seed above int64 works too
    x = np.ones(64)
    with td.device.using(dev):
        out, _ = ops.dropout_forward(x, rate, seed)
    keep = np.array([_splitmix_uniform(seed, i) >= rate for i in range(64)])
    np.testing.assert_array_equal(out != 0, keep)


@pytest.mark.parametrize("dev,version", CASES)
def test_noncontiguous_input(dev, version, rng):
    base = rng.standard_normal((26, 7)) + 5
    x = base[::2].T                                         # (7, 13) strided + transposed
    with on(dev, "dropout", version):
        out, _ = ops.dropout_forward(x, 0.3, 7)
    with on("reference"):
        want, _ = ops.dropout_forward(np.ascontiguousarray(x), 0.3, 7)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_different_seed_different_mask(dev):
    x = np.ones((33, 13))
    with td.device.using(dev):
        a, _ = ops.dropout_forward(x, 0.5, 1)
        b, _ = ops.dropout_forward(x, 0.5, 2)
    assert (a != b).mean() > 0.3                           # about half of the decisions differ


@pytest.mark.parametrize("dev", ["reference", "cpu"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rate", [0.2, 0.5, 0.75])
def test_kept_fraction_and_scale(dev, dtype, rate, rng):
    x = rng.uniform(1, 2, 1 << 20).astype(dtype)
    with td.device.using(dev):
        out, _ = ops.dropout_forward(x, rate, 42)
    kept = out != 0
    # binomial standard deviation sqrt(r (1 - r) / n) < 5e-4: 0.003 is six of them
    assert abs(kept.mean() - (1 - rate)) < 3e-3
    scale = dtype(1 / (1 - rate))
    np.testing.assert_array_equal(out[kept], x[kept] * scale)
    assert abs(out.mean() / x.mean() - 1) < 1e-2            # the expectation is kept


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_identity_in_inference_and_at_rate_zero(dev, rng):
    x = rng.standard_normal((4, 5))
    dout = rng.standard_normal((4, 5))
    with td.device.using(dev):
        for rate, seed, training in ((0.5, None, False), (0.0, None, True), (0.0, 3, True)):
            out, dx = _pass(x, rate, seed, dout, training=training)
            np.testing.assert_array_equal(out, x)
            np.testing.assert_array_equal(dx, dout)
            assert not np.shares_memory(out, x) and not np.shares_memory(dx, dout)


@pytest.mark.parametrize("rate", [0.3, 0.6])
def test_finite_differences_on_reference(rate, rng):
    x = rng.standard_normal((3, 4, 5))
    with on("reference"):
        assert td.gradcheck((ops.dropout_forward, ops.dropout_backward), [x],
                            kwargs={"rate": rate, "seed": 5}, atol=1e-9, rtol=1e-7)


@pytest.fixture
def no_kernel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was reached before the input was checked")
    monkeypatch.setattr(tinydl.device, "backend", refuse)


@pytest.mark.parametrize("call, error, words", [
    (lambda: ops.dropout_forward(np.ones(3), 1.0, 1), ValueError, ["rate", "Received: rate=1.0"]),
    (lambda: ops.dropout_forward(np.ones(3), -0.1, 1), ValueError, ["rate", "-0.1"]),
    (lambda: ops.dropout_forward(np.ones(3), 0.5, None), ValueError, ["seed", "2**64", "None"]),
    (lambda: ops.dropout_forward(np.ones(3), 0.5, -1), ValueError, ["seed", "-1"]),
    (lambda: ops.dropout_forward(np.ones(3), 0.5, 2**64), ValueError, ["seed", str(2**64)]),
    (lambda: ops.dropout_forward(np.ones(3), 0.5, 1.5), ValueError, ["seed", "1.5"]),
    (lambda: ops.dropout_backward(np.ones(3), None), TypeError, ["cache returned by dropout_forward", "received None"]),
])
def test_bad_input_is_refused_before_any_kernel(no_kernel, call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value)


def test_bad_dout_is_refused_before_any_kernel(monkeypatch):
    _, cache = ops.dropout_forward(np.ones((2, 3)), 0.5, 1)
    monkeypatch.setattr(tinydl.device, "backend", lambda *a, **k: pytest.fail("kernel reached"))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        ops.dropout_backward(np.ones((3, 2)), cache)
