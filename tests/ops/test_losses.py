"""Losses: every device against the reference (int and float labels), outliers, finite
differences of every backward, hand-worked values, PyTorch parity, bad input."""
import math

import numpy as np
import pytest
from helpers import TOL, assert_close, kernel_cases, on

import tinydl as td
import tinydl.device
from tinydl import ops

CASES = kernel_cases("losses")
DTYPES = [np.float32, np.float64]
LOSSES = ["softmax_cross_entropy", "softmax_cross_entropy-soft", "sigmoid_binary_cross_entropy",
          "binary_cross_entropy", "categorical_cross_entropy", "categorical_cross_entropy-soft", "mse"]


def _inputs(kind, shape, dtype, rng):
    """(prediction, target) for loss ``kind`` on (N, C) ``shape``."""
    n, c = shape
    name = kind.split("-")[0]
    if name == "softmax_cross_entropy":
        pred = (rng.standard_normal(shape) * 3).astype(dtype)
    elif name == "categorical_cross_entropy":
        pred = rng.uniform(0.05, 1.0, shape).astype(dtype)        # rows need not sum to 1
    elif name == "binary_cross_entropy":
        pred = rng.uniform(0.02, 0.98, shape).astype(dtype)
    else:
        pred = (rng.standard_normal(shape) * 2).astype(dtype)
    if kind.endswith("-soft"):
        target = rng.dirichlet(np.ones(c), size=n).astype(dtype)
    elif name in ("softmax_cross_entropy", "categorical_cross_entropy"):
        target = rng.integers(0, c, n)
    else:
        target = rng.uniform(0, 1, shape).astype(dtype)
    return name, pred, target


def _pass(name, pred, target, dloss=0.7):
    loss, cache = getattr(ops, f"{name}_forward")(pred, target)
    return loss, getattr(ops, f"{name}_backward")(dloss, cache)


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 7), (33, 13), (2, 3)])
@pytest.mark.parametrize("kind", LOSSES)
def test_matches_reference(dev, version, dtype, shape, kind, rng):
    name, pred, target = _inputs(kind, shape, dtype, rng)
    with on(dev, "losses", version):
        loss, grad = _pass(name, pred, target)
    with on("reference"):
        want_loss, want_grad = _pass(name, pred, target)
    assert isinstance(loss, float) and isinstance(want_loss, float)
    assert loss == pytest.approx(want_loss, rel=TOL[np.dtype(dtype)]["rtol"])
    assert grad.dtype == dtype and grad.shape == shape
    assert_close(grad, want_grad)


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("kind", LOSSES)
def test_noncontiguous_inputs(dev, version, kind, rng):
    name, pred, target = _inputs(kind, (13, 9), np.float64, rng)
    pred_view = np.asfortranarray(pred)                         # same values, not C-contiguous
    target_view = np.asfortranarray(target) if target.ndim == 2 else target[::-1].copy()[::-1]
    with on(dev, "losses", version):
        loss, grad = _pass(name, pred_view, target_view)
    with on("reference"):
        want_loss, want_grad = _pass(name, pred, target)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    assert_close(grad, want_grad)


@pytest.mark.parametrize("dev", ["reference", "cpu"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_logits_of_1e4_stay_finite(dev, dtype):
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, 1e4]], dtype=dtype)
    with td.device.using(dev):
        loss, grad = _pass("softmax_cross_entropy", logits, np.array([1, 2]), dloss=1.0)
        # row 0: label 1 is 1e4 below the max -> 1e4; row 1: the right class -> 0
        assert loss == pytest.approx(1e4 / 2, rel=1e-6)
        np.testing.assert_allclose(grad, [[0.5, -0.5, 0], [0, 0, 0]], atol=1e-7)
        loss, grad = _pass("sigmoid_binary_cross_entropy", logits, np.array([[0, 1, 0], [1, 0, 1]], dtype),
                           dloss=1.0)
        assert loss == pytest.approx((1e4 + 0.6931471805599453 + 0 + 1e4) / 6, rel=1e-6)
        assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("kind", LOSSES)
def test_finite_differences_on_reference(kind, rng):
    name, pred, target = _inputs(kind, (4, 5), np.float64, rng)
    pair = (getattr(ops, f"{name}_forward"), getattr(ops, f"{name}_backward"))
    with on("reference"):
        assert td.gradcheck(pair, [pred, target], atol=1e-9, rtol=1e-6, wrt=[0])   # targets: no gradient


def test_unnormalized_soft_labels_gradient_on_reference(rng):
    # targets whose rows do not sum to 1: the gradient is p * sum(y) - y, not p - y
    logits, y = rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))
    with on("reference"):
        assert td.gradcheck((ops.softmax_cross_entropy_forward, ops.softmax_cross_entropy_backward),
                            [logits, y], atol=1e-9, rtol=1e-6, wrt=[0])
    with on("cpu"):
        _, got = _pass("softmax_cross_entropy", logits, y)
    with on("reference"):
        _, want = _pass("softmax_cross_entropy", logits, y)
    assert_close(got, want)


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_hand_worked_values(dev):
    ln43 = math.log(4 / 3)
    with td.device.using(dev):
        # softmax([0, ln 3]) = [1/4, 3/4]; label 1 -> -ln(3/4) = ln(4/3)
        loss, cache = ops.softmax_cross_entropy_forward(np.array([[0.0, math.log(3)]]), np.array([1]))
        assert loss == pytest.approx(ln43, rel=1e-15)
        np.testing.assert_allclose(ops.softmax_cross_entropy_backward(2.0, cache), [[0.5, -0.5]], rtol=1e-15)
        # the same as one-hot float labels
        loss, _ = ops.softmax_cross_entropy_forward(np.array([[0.0, math.log(3)]]), np.array([[0.0, 1.0]]))
        assert loss == pytest.approx(ln43, rel=1e-15)
        # probabilities [1/4, 3/4], or [1, 3] which Keras normalizes to the same
        for p in ([[0.25, 0.75]], [[1.0, 3.0]]):
            loss, _ = ops.categorical_cross_entropy_forward(np.array(p), np.array([1]))
            assert loss == pytest.approx(ln43, rel=1e-15)
        # sigmoid(0) = 1/2 -> ln 2 for either target; gradient 1/2 - y over 2 elements
        loss, cache = ops.sigmoid_binary_cross_entropy_forward(np.zeros((1, 2)), np.array([[1.0, 0.0]]))
        assert loss == pytest.approx(math.log(2), rel=1e-15)
        np.testing.assert_allclose(ops.sigmoid_binary_cross_entropy_backward(1.0, cache), [[-0.25, 0.25]])
        loss, cache = ops.binary_cross_entropy_forward(np.array([[0.5, 0.8]]), np.array([[1.0, 1.0]]))
        assert loss == pytest.approx((math.log(2) - math.log(0.8)) / 2, rel=1e-15)
        np.testing.assert_allclose(ops.binary_cross_entropy_backward(1.0, cache), [[-1.0, -0.625]], rtol=1e-15)
        # mse([1, 2], [0, 0]) = (1 + 4) / 2; gradient 2 (p - y) / 2
        loss, cache = ops.mse_forward(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]]))
        assert loss == 2.5
        np.testing.assert_array_equal(ops.mse_backward(1.0, cache), [[1.0, 2.0]])


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_clipped_probabilities(dev):
    # Keras clips to [1e-7, 1 - 1e-7]: a 0 probability costs -log(1e-7), and its gradient is 0
    with td.device.using(dev):
        loss, cache = ops.binary_cross_entropy_forward(np.array([[0.0, 0.5]]), np.array([[1.0, 1.0]]))
        assert loss == pytest.approx((-math.log(1e-7) + math.log(2)) / 2, rel=1e-12)
        np.testing.assert_allclose(ops.binary_cross_entropy_backward(1.0, cache), [[0.0, -1.0]])
        loss, cache = ops.categorical_cross_entropy_forward(np.array([[0.0, 1.0]]), np.array([0]))
        assert loss == pytest.approx(-math.log(1e-7), rel=1e-12)
        assert np.all(ops.categorical_cross_entropy_backward(1.0, cache) == 0)


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_float64_targets_for_float32_predictions_are_cast(dev, rng):
    pred = rng.standard_normal((4, 3)).astype(np.float32)
    with td.device.using(dev):
        _, grad = _pass("mse", pred, pred.astype(np.float64) + 1)
        assert grad.dtype == np.float32
        np.testing.assert_allclose(grad, np.full((4, 3), -2 / 12 * 0.7), rtol=1e-6)
        _, grad = _pass("sigmoid_binary_cross_entropy", pred, np.ones((4, 3), dtype=np.int64))
        assert grad.dtype == np.float32


@pytest.mark.parametrize("dev,version", CASES + [pytest.param("reference", None, id="reference")])
@pytest.mark.parametrize("kind", LOSSES)
def test_torch_parity(dev, version, kind, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    name, pred, target = _inputs(kind, (6, 5), np.float64, rng)
    with on(dev, "losses", version):
        loss, grad = _pass(name, pred, target, dloss=1.0)
    tp, tt = torch.tensor(pred, requires_grad=True), torch.tensor(target)
    if name == "softmax_cross_entropy":
        tloss = F.cross_entropy(tp, tt)
    elif name == "sigmoid_binary_cross_entropy":
        tloss = F.binary_cross_entropy_with_logits(tp, tt)
    elif name == "binary_cross_entropy":
        tloss = F.binary_cross_entropy(tp, tt)
    elif name == "mse":
        tloss = F.mse_loss(tp, tt)
    else:   # categorical CE on probabilities: normalize each row, as Keras does, then -sum y log q
        q = tp / tp.sum(dim=1, keepdim=True)
        y = F.one_hot(tt, 5).double() if tt.ndim == 1 else tt
        tloss = -(y * torch.log(q)).sum(dim=1).mean()
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-13)
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-11, atol=1e-15)


@pytest.fixture
def no_kernel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was reached before the input was checked")
    monkeypatch.setattr(tinydl.device, "backend", refuse)


@pytest.mark.parametrize("call, error, words", [
    (lambda: ops.softmax_cross_entropy_forward(np.ones((2, 3)), np.array([0, 3])), ValueError, ["[0, 3)", "3"]),
    (lambda: ops.softmax_cross_entropy_forward(np.ones((2, 3)), np.array([0, -1])), ValueError, ["[0, 3)", "-1"]),
    (lambda: ops.softmax_cross_entropy_forward(np.ones((2, 3)), np.array([0, 1, 2])), ValueError, ["(2,)", "(3,)"]),
    (lambda: ops.softmax_cross_entropy_forward(np.ones((2, 3)), np.ones((2, 4))), ValueError, ["(2, 3)", "(2, 4)"]),
    (lambda: ops.softmax_cross_entropy_forward(np.ones(3), np.array([0])), ValueError, ["2-D", "(3,)"]),
    (lambda: ops.softmax_cross_entropy_forward(np.ones((0, 3)), np.array([], int)), ValueError, ["at least one", "(0, 3)"]),
    (lambda: ops.categorical_cross_entropy_forward(np.ones((2, 3)), np.array([True, False])), TypeError, ["integer", "bool"]),
    (lambda: ops.mse_forward(np.ones((2, 3)), np.ones((3, 2))), ValueError, ["(2, 3)", "(3, 2)"]),
    (lambda: ops.binary_cross_entropy_forward(np.ones((2, 3)), np.full((2, 3), "a")), TypeError, ["numeric", "<U1"]),
    (lambda: ops.sigmoid_binary_cross_entropy_forward(np.ones((2, 0)), np.ones((2, 0))), ValueError, ["at least one", "(2, 0)"]),
    (lambda: ops.mse_backward(float("nan"), None), TypeError, ["cache returned by mse_forward", "received None"]),
])
def test_bad_input_is_refused_before_any_kernel(no_kernel, call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value)


def test_bad_dloss_is_refused_before_any_kernel(monkeypatch):
    _, cache = ops.mse_forward(np.ones((2, 3)), np.zeros((2, 3)))
    monkeypatch.setattr(tinydl.device, "backend", lambda *a, **k: pytest.fail("kernel reached"))
    with pytest.raises(ValueError, match="dloss.*inf"):
        ops.mse_backward(float("inf"), cache)
