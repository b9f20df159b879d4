"""Keras's loss surface: MAE and Huber on every device against PyTorch, targets as Keras takes
them, string aliases, sample weights (value and gradient against PyTorch's per-sample losses)."""
import numpy as np
import pytest
from helpers import on

from tinydl import device, losses

DEVICES = ["reference", "cpu"] + (
    [pytest.param("cuda", marks=pytest.mark.cuda)] if device.cuda_available() else [])


def _torch_loss(name, pred, target, **kw):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    fn = {"mae": nn.L1Loss, "huber": nn.HuberLoss, "mse": nn.MSELoss}[name](**kw)
    p = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
    loss = fn(p, torch.tensor(target, dtype=torch.float64))
    loss.backward()
    return loss.item(), p.grad.numpy()


@pytest.mark.torch
@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw", [("mae", {}), ("huber", {}), ("huber", {"delta": 0.3})])
def test_regression_losses_match_torch(dev, dtype, name, kw, rng):
    pred = (rng.standard_normal((33, 5)) * 2).astype(dtype)
    target = (rng.standard_normal((33, 5)) * 2).astype(dtype)
    target[0, 0] = pred[0, 0]                       # a zero difference: gradient 0 in both
    want, want_grad = _torch_loss(name, pred.astype(np.float64), target.astype(np.float64), **kw)
    loss = losses.MeanAbsoluteError() if name == "mae" else losses.Huber(**kw)
    with on(dev):
        got = loss(target, pred)
        grad = device.to_numpy(loss.backward(0.5))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert got == pytest.approx(want, rel=tol)
    np.testing.assert_allclose(grad, 0.5 * want_grad, rtol=tol * 10, atol=tol * 1e-2)
    assert grad.dtype == dtype


def test_huber_by_hand():
    # d = [0.5, -3]: 0.5 * 0.25 = 0.125 and 1 * (3 - 0.5) = 2.5 -> mean 1.3125
    loss = losses.get("huber")
    assert loss(np.array([[0.0, 3.0]]), np.array([[0.5, 0.0]])) == pytest.approx(1.3125)
    np.testing.assert_allclose(loss.backward(), [[0.25, -0.5]])


@pytest.mark.parametrize("name,cls", [
    ("mse", losses.MeanSquaredError), ("mae", losses.MeanAbsoluteError),
    ("mean_absolute_error", losses.MeanAbsoluteError), ("huber", losses.Huber),
    ("binary_crossentropy", losses.BinaryCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ("MeanAbsoluteError", losses.MeanAbsoluteError), ("Huber", losses.Huber),
])
def test_string_aliases(name, cls):
    assert type(losses.get(name)) is cls


def test_callable_loss_gets_a_clear_message():
    def my_loss(y_true, y_pred):
        return ((y_true - y_pred) ** 2).mean()
    with pytest.raises(TypeError, match="carries its\\s+own backward.*my_loss|my_loss.*own backward"):
        losses.get(my_loss)
    with pytest.raises(ValueError, match="unknown loss.*'maee'"):
        losses.get("maee")


# ---- targets as Keras takes them ------------------------------------------------------------------
@pytest.mark.parametrize("labels", [
    np.array([2, 0, 1]), np.array([[2], [0], [1]]), np.array([2.0, 0.0, 1.0]),
    np.array([[2.0], [0.0], [1.0]], dtype=np.float32)])
@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_labels_every_form(labels, from_logits):
    # by hand: -mean(log p[label]) on probabilities; log-softmax of the same numbers on logits
    p = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25], [0.2, 0.6, 0.2]])
    loss = losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    logp = np.log(p) if not from_logits else p - np.log(np.exp(p).sum(axis=1, keepdims=True))
    want = -np.mean(logp[[0, 1, 2], [2, 0, 1]])
    assert loss(labels, p) == pytest.approx(want, rel=1e-12)


def test_non_integral_float_labels_refused():
    loss = losses.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match="integer class indices.*0.5"):
        loss(np.array([0.5, 1.0]), np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"shape \(2,\) or \(2, 1\)"):
        loss(np.array([[0, 1], [1, 0]]), np.full((2, 3), 1 / 3))


@pytest.mark.parametrize("loss", [losses.BinaryCrossentropy(), losses.BinaryCrossentropy(from_logits=True),
                                  losses.MeanSquaredError(), losses.MeanAbsoluteError(), losses.Huber()])
def test_flat_targets_for_a_column_output(loss, rng):
    pred = rng.uniform(0.1, 0.9, (6, 1))
    y = rng.integers(0, 2, 6).astype(np.float64)
    flat = loss(y, pred)
    g_flat = loss.backward()
    col = loss(y[:, None], pred)
    np.testing.assert_allclose(g_flat, loss.backward())
    assert flat == col and g_flat.shape == (6, 1)
    with pytest.raises(ValueError, match=r"shape of y_pred \(6, 1\).*\(5,\)"):
        loss(y[:5], pred)


# ---- sample weights: sum_n w_n l_n / N, against PyTorch's per-sample losses ----------------------------
def _torch_per_sample(kind, pred, y):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    p = torch.tensor(pred, requires_grad=True)
    t = torch.tensor(y)
    if kind == "sce_logits":
        per = F.cross_entropy(p, t, reduction="none")
    elif kind == "sce_probs":
        per = F.nll_loss(torch.log(p / p.sum(1, keepdim=True)), t, reduction="none")
    elif kind == "cce_soft_logits":
        per = -(t * torch.log_softmax(p, 1)).sum(1)
    elif kind == "bce_logits":
        per = F.binary_cross_entropy_with_logits(p, t, reduction="none").mean(1)
    elif kind == "bce_probs":
        per = F.binary_cross_entropy(p, t, reduction="none").mean(1)
    elif kind == "mse":
        per = F.mse_loss(p, t, reduction="none").mean(1)
    elif kind == "mae":
        per = F.l1_loss(p, t, reduction="none").mean(1)
    else:
        per = F.huber_loss(p, t, reduction="none", delta=0.5).mean(1)
    return p, per


LOSS_OF = {
    "sce_logits": lambda: losses.SparseCategoricalCrossentropy(from_logits=True),
    "sce_probs": lambda: losses.SparseCategoricalCrossentropy(),
    "cce_soft_logits": lambda: losses.CategoricalCrossentropy(from_logits=True),
    "bce_logits": lambda: losses.BinaryCrossentropy(from_logits=True),
    "bce_probs": lambda: losses.BinaryCrossentropy(),
    "mse": losses.MeanSquaredError, "mae": losses.MeanAbsoluteError,
    "huber": lambda: losses.Huber(delta=0.5),
}


@pytest.mark.torch
@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("kind", list(LOSS_OF))
def test_sample_weight_matches_torch(dev, kind, rng):
    n, c = 7, 4
    if kind.startswith("sce"):
        pred = rng.uniform(0.05, 1.0, (n, c)) if kind == "sce_probs" else rng.standard_normal((n, c)) * 2
        y = rng.integers(0, c, n)
    elif kind == "cce_soft_logits":
        pred, y = rng.standard_normal((n, c)), rng.dirichlet(np.ones(c), n)
    else:
        pred = rng.uniform(0.05, 0.95, (n, c)) if kind == "bce_probs" else rng.standard_normal((n, c))
        y = rng.uniform(0, 1, (n, c))
    w = rng.uniform(0, 3, n)
    w[2] = 0.0
    p, per = _torch_per_sample(kind, pred, y)
    torch = pytest.importorskip("torch")
    want = (per * torch.tensor(w)).sum() / n
    want.backward()
    loss = LOSS_OF[kind]()
    with on(dev):
        got = loss(y, pred, sample_weight=w)
        grad = device.to_numpy(loss.backward())
    assert got == pytest.approx(want.item(), rel=1e-10)
    np.testing.assert_allclose(grad, p.grad.numpy(), rtol=1e-8, atol=1e-12)
    # without weights the loss is again the plain mean
    with on(dev):
        assert loss(y, pred) == pytest.approx(per.mean().item(), rel=1e-10)
        plain = device.to_numpy(loss.backward())
    np.testing.assert_allclose(plain, _plain_grad(kind, pred, y), rtol=1e-8, atol=1e-12)


def _plain_grad(kind, pred, y):
    p, per = _torch_per_sample(kind, pred, y)
    per.mean().backward()
    return p.grad.numpy()


def test_bad_sample_weight():
    loss = losses.MeanSquaredError()
    with pytest.raises(ValueError, match=r"sample_weight must be numbers of shape \(3,\).*\(2,\)"):
        loss(np.zeros((3, 1)), np.zeros((3, 1)), sample_weight=np.ones(2))
    with pytest.raises(ValueError, match="finite and >= 0"):
        loss(np.zeros((3, 1)), np.zeros((3, 1)), sample_weight=np.array([1.0, -1.0, 1.0]))


def test_new_ops_refuse_bad_input_before_any_kernel():
    from tinydl.ops import losses as loss_ops
    with pytest.raises(ValueError, match="delta"):
        loss_ops.huber_forward(np.zeros((2, 2)), np.zeros((2, 2)), delta=0.0)
    with pytest.raises(ValueError, match="target"):
        loss_ops.mae_forward(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"w must be a numeric array of shape \(2,\)"):
        loss_ops.scale_rows(np.zeros((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match="w must be finite"):
        loss_ops.scale_rows(np.zeros((2, 3)), np.array([1.0, np.nan]))
    # by hand: row n times w[n], any trailing shape
    np.testing.assert_array_equal(loss_ops.scale_rows(np.ones((2, 2, 2)), np.array([2.0, -1.0])),
                                  [[[2, 2], [2, 2]], [[-1, -1], [-1, -1]]])
