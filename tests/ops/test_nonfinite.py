"""NaN and inf propagate exactly as on the reference, on every device and kernel version: a
model with NaN weights must predict NaN (so TerminateOnNaN fires), never a finite number."""
import numpy as np
import pytest
from helpers import kernel_cases, on

from tinydl import ops
from tinydl.ops import merge

SPECIALS = (np.nan, np.inf, -np.inf)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")   # NaN and inf on purpose


def _inject(rng, shape, count=3, values=SPECIALS):
    """A standard-normal array with ``count`` NaN/+inf/-inf at random positions."""
    x = rng.standard_normal(shape)
    flat = x.reshape(-1)
    for i, pos in enumerate(rng.choice(flat.size, size=min(count, flat.size), replace=False)):
        flat[pos] = values[i % len(values)]
    return x


def _same(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg="NaN positions differ")
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want), err_msg="+inf positions differ")
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want), err_msg="-inf positions differ")
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-9, atol=1e-11)


def _both(dev, family, version, fwd, bwd, args, dout_values=None):
    """Forward + backward on (dev, version) and on the reference; compare every result."""
    results = []
    for where in ((dev, family, version), ("reference",)):
        with on(*where):
            out, cache = fwd(*args)
            dout = np.ones_like(out) if dout_values is None else dout_values
            grads = bwd(dout, cache)
        grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
        results.append([out] + [g for g in grads if g is not None])
    for g, w in zip(*results, strict=True):
        _same(g, w)


ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", "silu", "elu", "selu", "softplus"]


@pytest.mark.parametrize("dev,version", kernel_cases("activations"))
@pytest.mark.parametrize("op", ACTIVATIONS)
@pytest.mark.parametrize("seed", range(3))
def test_activations(dev, version, op, seed):
    rng = np.random.default_rng(seed)
    x = _inject(rng, (4, 7), count=4)
    dout = _inject(rng, (4, 7), count=2)
    _both(dev, "activations", version, getattr(ops, f"{op}_forward"), getattr(ops, f"{op}_backward"), (x,), dout)


def test_relu_of_nan_is_nan_as_in_pytorch():
    out, _ = ops.relu_forward(np.array([np.nan, -1.0, 2.0, np.inf, -np.inf]))
    np.testing.assert_array_equal(out, [np.nan, 0.0, 2.0, np.inf, 0.0])


@pytest.mark.parametrize("dev,version", kernel_cases("pool2d"))
@pytest.mark.parametrize("kind", ["maxpool2d", "avgpool2d"])
@pytest.mark.parametrize("seed", range(3))
def test_pooling(dev, version, kind, seed):
    rng = np.random.default_rng(seed)
    x = _inject(rng, (2, 2, 6, 6), count=5)
    for kw in (dict(pool_size=2), dict(pool_size=3, stride=1, padding=1), dict(pool_size=(2, 2), stride=2)):
        _both(dev, "pool2d", version, lambda x, kw=kw: getattr(ops, f"{kind}_forward")(x, **kw),
              getattr(ops, f"{kind}_backward"), (x,))


@pytest.mark.parametrize("dev,version", kernel_cases("pool2d"))
def test_global_avgpool(dev, version):
    x = _inject(np.random.default_rng(0), (2, 3, 4, 4), count=3)
    _both(dev, "pool2d", version, ops.global_avgpool2d_forward, ops.global_avgpool2d_backward, (x,))


@pytest.mark.parametrize("dev,version", kernel_cases("layernorm"))
@pytest.mark.parametrize("seed", range(3))
def test_layernorm(dev, version, seed):
    x = _inject(np.random.default_rng(seed), (5, 8), count=3)
    _both(dev, "layernorm", version, lambda x: ops.layernorm_forward(x, np.ones(8), np.zeros(8)),
          ops.layernorm_backward, (x,))


@pytest.mark.parametrize("dev,version", kernel_cases("batchnorm"))
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3, 3, 3), (6, 4)])
def test_batchnorm(dev, version, training, shape):
    x = _inject(np.random.default_rng(1), shape, count=3)
    C = shape[1]

    def fwd(x):
        return ops.batchnorm_forward(x, np.ones(C), np.zeros(C), np.zeros(C), np.ones(C), training=training)
    _both(dev, "batchnorm", version, fwd, ops.batchnorm_backward, (x,))


@pytest.mark.parametrize("dev,version", kernel_cases("attention"))
@pytest.mark.parametrize("where", ["q row", "k row", "one score inf", "one score nan", "v"])
@pytest.mark.parametrize("causal", [False, True])
def test_attention(dev, version, where, causal):
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((2, 5, 4)) for _ in range(3))
    if where == "q row":
        q[0, 2] = np.nan
    elif where == "k row":
        k[1, 3] = np.nan
    elif where == "v":
        v[0, 1, 2] = np.inf
    else:
        q[1, 4, 0] = np.inf if where == "one score inf" else np.nan
    _both(dev, "attention", version, lambda q, k, v: ops.attention_forward(q, k, v, is_causal=causal),
          ops.attention_backward, (q, k, v))


@pytest.mark.parametrize("dev,version", kernel_cases("attention"))
@pytest.mark.parametrize("where", ["nan", "+inf", "-inf row", "-inf keys", "dout nan"])
@pytest.mark.parametrize("dropout_p", [0.0, 0.3])
def test_attention_float_mask(dev, version, where, dropout_p):
    # a float mask brings NaN and +inf scores, -inf masks keys or whole rows (output 0 there)
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal((2, 5, 4)) for _ in range(3))
    mask = rng.standard_normal((2, 5, 5))
    if where == "nan":
        mask[0, 1, 2] = np.nan
    elif where == "+inf":
        mask[1, 3, 0] = np.inf
    elif where == "-inf row":
        mask[0, 2, :] = -np.inf
    else:
        mask[:, :, 1] = -np.inf
    dout = _inject(rng, (2, 5, 4), count=2) if where == "dout nan" else None
    _both(dev, "attention", version, lambda q, k, v: ops.attention_forward(
        q, k, v, attn_mask=mask, dropout_p=dropout_p, seed=11), ops.attention_backward, (q, k, v), dout)


LOSSES = {
    "softmax_cross_entropy": lambda x, rng: (x, rng.integers(0, x.shape[1], x.shape[0])),
    "sigmoid_binary_cross_entropy": lambda x, rng: (x, rng.random(x.shape)),
    "binary_cross_entropy": lambda x, rng: (1 / (1 + np.exp(-x)), rng.random(x.shape) > 0.5),
    "categorical_cross_entropy": lambda x, rng: (np.abs(x), rng.integers(0, x.shape[1], x.shape[0])),
    "mse": lambda x, rng: (x, rng.standard_normal(x.shape)),
    "mae": lambda x, rng: (x, rng.standard_normal(x.shape)),
    "huber": lambda x, rng: (x, rng.standard_normal(x.shape)),
}


@pytest.mark.parametrize("dev,version", kernel_cases("losses"))
@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("value", SPECIALS)
def test_losses(dev, version, loss, value):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 5))
    x[2, 3] = value
    pred, target = LOSSES[loss](x, rng)
    fwd, bwd = getattr(ops, f"{loss}_forward"), getattr(ops, f"{loss}_backward")
    results = []
    for where in ((dev, "losses", version), ("reference",)):
        with on(*where), np.errstate(all="ignore"):
            value_, cache = fwd(pred, target)
            results.append((value_, bwd(1.0, cache)))
    (got, dgot), (want, dwant) = results
    _same(np.array(got), np.array(want))
    _same(dgot, dwant)


# ---- the families added by the Keras layers and merge layers ------------------------------------
X4_OPS = {
    "upsampling": (lambda x: ops.upsample2d_forward(x, (2, 3)), ops.upsample2d_backward),
    "conv2d_transpose": (lambda x: ops.conv2d_transpose_forward(
        x, np.random.default_rng(5).standard_normal((2, 3, 3, 3)), np.zeros(3), stride=2, padding=1),
        ops.conv2d_transpose_backward),
    "depthwise_conv2d": (lambda x: ops.depthwise_conv2d_forward(
        x, np.random.default_rng(6).standard_normal((4, 1, 3, 3)), np.zeros(4), padding=1),
        ops.depthwise_conv2d_backward),
    "augmentation": (lambda x: ops.crop2d_forward(x, np.array([0, 1]), np.array([1, 0]), 3, 3),
                     ops.crop2d_backward),
    "rescale": (lambda x: ops.rescale_forward(x, 0.5, 1.0), ops.rescale_backward),
}


def _family_cases(families):
    return [pytest.param(f, *c.values, id=f"{f}-{c.id}", marks=c.marks)
            for f in families for c in kernel_cases(f)]


@pytest.mark.parametrize("family,dev,version", _family_cases(sorted(X4_OPS)))
@pytest.mark.parametrize("seed", range(2))
def test_image_families(family, dev, version, seed):
    x = _inject(np.random.default_rng(seed), (2, 2, 4, 4), count=4)
    fwd, bwd = X4_OPS[family]
    _both(dev, family, version, fwd, bwd, (x,))


@pytest.mark.parametrize("dev,version", kernel_cases("embedding"))
def test_embedding(dev, version):
    table = _inject(np.random.default_rng(7), (4, 5), count=3)
    ids = np.array([[0, 3, 3], [1, 2, 0]])
    _both(dev, "embedding", version, lambda t: ops.embedding_forward(ids, t), ops.embedding_backward, (table,),
          _inject(np.random.default_rng(8), (2, 3, 5), count=3))


@pytest.mark.parametrize("dev,version", kernel_cases("merge"))
@pytest.mark.parametrize("op", ["add", "average", "multiply", "concatenate"])
def test_merge(dev, version, op):
    rng = np.random.default_rng(9)
    a, b = _inject(rng, (3, 4), count=3), _inject(rng, (3, 4), count=2)
    _both(dev, "merge", version, lambda a, b: getattr(merge, f"{op}_forward")([a, b]),
          getattr(merge, f"{op}_backward"), (a, b))
