"""Every op's cache is one OpCache record: a backward refuses any other op's cache (and tuples
and None) with a TypeError naming the forward it needs, before any kernel runs; and it runs the
device and kernel version that made the cache, whatever is active by then."""
import numpy as np
import pytest
from helpers import assert_close

import tinydl.device
from tinydl import device, ops
from tinydl.ops import merge
from tinydl.ops._cache import OpCache

R = np.random.default_rng(7)
X4 = R.standard_normal((2, 3, 6, 6))
X3 = R.standard_normal((2, 4, 6))
X2 = R.standard_normal((3, 5))
LABELS = np.array([0, 4, 2])
P2 = 1 / (1 + np.exp(-X2))

# op name -> a forward call returning (out, cache)
FORWARDS = {
    "dense": lambda: ops.dense_forward(X2, R.standard_normal((5, 4)), np.zeros(4)),
    "relu": lambda: ops.relu_forward(X2),
    "leaky_relu": lambda: ops.leaky_relu_forward(X2),
    "sigmoid": lambda: ops.sigmoid_forward(X2),
    "tanh": lambda: ops.tanh_forward(X2),
    "gelu": lambda: ops.gelu_forward(X2),
    "softmax": lambda: ops.softmax_forward(X2),
    "dropout": lambda: ops.dropout_forward(X2, 0.5, 3),
    "softmax_cross_entropy": lambda: ops.softmax_cross_entropy_forward(X2, LABELS),
    "sigmoid_binary_cross_entropy": lambda: ops.sigmoid_binary_cross_entropy_forward(X2, P2),
    "binary_cross_entropy": lambda: ops.binary_cross_entropy_forward(P2, P2 > 0.5),
    "categorical_cross_entropy": lambda: ops.categorical_cross_entropy_forward(P2, LABELS),
    "mse": lambda: ops.mse_forward(X2, P2),
    "conv2d": lambda: ops.conv2d_forward(X4, R.standard_normal((4, 3, 3, 3)), np.zeros(4)),
    "maxpool2d": lambda: ops.maxpool2d_forward(X4, 2),
    "avgpool2d": lambda: ops.avgpool2d_forward(X4, 2),
    "global_avgpool2d": lambda: ops.global_avgpool2d_forward(X4),
    "batchnorm": lambda: ops.batchnorm_forward(X4, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)),
    "layernorm": lambda: ops.layernorm_forward(X3, np.ones(6), np.zeros(6)),
    "attention": lambda: ops.attention_forward(X3, X3, X3),
    "patchify": lambda: ops.patchify_forward(X4, 3),
    "concat_token": lambda: ops.concat_token_forward(X3, np.zeros(6)),
    "pos_embed": lambda: ops.pos_embed_forward(X3, np.zeros((5, 6))),
    "sequence_pool": lambda: ops.sequence_pool_forward(X3, "mean"),
    "split_heads": lambda: ops.split_heads_forward(X3, 2),
    "merge_heads": lambda: ops.merge_heads_forward(X4),
    # the families added by the Keras layers, losses and merge layers
    "silu": lambda: ops.silu_forward(X2),
    "elu": lambda: ops.elu_forward(X2),
    "selu": lambda: ops.selu_forward(X2),
    "softplus": lambda: ops.softplus_forward(X2),
    "mae": lambda: ops.mae_forward(X2, P2),
    "huber": lambda: ops.huber_forward(X2, P2, 0.5),
    "rescale": lambda: ops.rescale_forward(X2, 0.5, 1.0),
    "upsample2d": lambda: ops.upsample2d_forward(X4, 2),
    "embedding": lambda: ops.embedding_forward(np.array([[0, 2], [1, 1]]), R.standard_normal((3, 4))),
    "conv2d_transpose": lambda: ops.conv2d_transpose_forward(X4, R.standard_normal((3, 2, 3, 3)), np.zeros(2)),
    "depthwise_conv2d": lambda: ops.depthwise_conv2d_forward(X4, R.standard_normal((6, 1, 3, 3)), np.zeros(6)),
    "flip2d": lambda: ops.flip2d_forward(X4, np.array([True, False]), np.array([False, True])),
    "crop2d": lambda: ops.crop2d_forward(X4, np.array([0, 2]), np.array([1, 0]), 4, 4),
    "add": lambda: merge.add_forward([X2, P2]),
    "average": lambda: merge.average_forward([X2, P2, X2]),
    "multiply": lambda: merge.multiply_forward([X2, P2, X2]),
    "concatenate": lambda: merge.concatenate_forward([X4, X4[:, :1]], axis=1),
}
LOSSES = {"softmax_cross_entropy", "sigmoid_binary_cross_entropy", "binary_cross_entropy",
          "categorical_cross_entropy", "mse", "mae", "huber"}
FAMILIES = ("dense", "activations", "dropout", "losses", "conv2d", "pool2d", "batchnorm", "layernorm",
            "attention", "sequence", "rescale", "upsampling", "embedding", "conv2d_transpose",
            "depthwise_conv2d", "augmentation", "merge")


def _backward_of(op):
    return getattr(ops, f"{op}_backward", None) or getattr(merge, f"{op}_backward")


@pytest.fixture(scope="module")
def caches():
    return {op: fwd() for op, fwd in FORWARDS.items()}


def _grad_in(op, out):
    return 1.0 if op in LOSSES else np.ones_like(out)


def test_every_family_returns_an_opcache_naming_op_device_and_version(caches):
    for op, (_, cache) in caches.items():
        assert isinstance(cache, OpCache) and cache.op == op and cache.device == "cpu", op
    assert caches["conv2d"][1].version == device.backend("conv2d", "cpu").DEFAULT
    assert caches["relu"][1].version is None
    for op, family in (("depthwise_conv2d", "depthwise_conv2d"), ("embedding", "embedding")):
        assert caches[op][1].version == device.backend(family, "cpu").DEFAULT, op


@pytest.mark.parametrize("op", sorted(FORWARDS))
def test_backward_refuses_every_foreign_cache_before_any_kernel(caches, monkeypatch, op):
    backward = _backward_of(op)
    grad = _grad_in(op, caches[op][0])
    foreign = [(other, c) for other, (_, c) in caches.items() if other != op]

    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was reached with a foreign cache")
    monkeypatch.setattr(tinydl.device, "backend", refuse)
    for other, cache in foreign:
        with pytest.raises(TypeError) as err:
            backward(grad, cache)
        assert str(err.value) == (f"{op}_backward needs the cache returned by {op}_forward; "
                                  f"received the cache of {other}_forward")
    for bad, words in ((caches[op][1][:4], "received a tuple"), (None, "received None")):
        with pytest.raises(TypeError, match=f"needs the cache returned by {op}_forward; {words}"):
            backward(grad, bad)


def test_the_sigmoid_bce_backward_refuses_a_softmax_cross_entropy_cache(caches):
    # the out-of-bounds pair: N*C labels read from an N-element array
    _, cache = caches["softmax_cross_entropy"]
    with pytest.raises(TypeError, match="received the cache of softmax_cross_entropy_forward"):
        ops.sigmoid_binary_cross_entropy_backward(1.0, cache)
    with pytest.raises(TypeError, match="received the cache of softmax_cross_entropy_forward"):
        ops.binary_cross_entropy_backward(1.0, cache)


@pytest.mark.parametrize("op", sorted(FORWARDS))
def test_a_cpu_cache_is_consumed_by_cpu_even_when_reference_is_active(caches, monkeypatch, op):
    out, cache = caches[op]
    want = _backward_of(op)(_grad_in(op, out), cache)
    family = device.backend  # the reference module must not be asked
    reference = {name: family(name, "reference") for name in FAMILIES}
    for module in reference.values():
        if hasattr(module, f"{op}_backward"):
            monkeypatch.setattr(module, f"{op}_backward", None)
    with device.using("reference"):
        got = _backward_of(op)(_grad_in(op, out), cache)
    got, want = (got, want) if isinstance(got, (tuple, list)) else ((got,), (want,))
    for g, w in zip(got, want, strict=True):
        if w is not None:
            assert_close(g, w)


def test_the_version_that_made_the_cache_runs_its_backward(monkeypatch):
    # max-pool v3's cache differs from v1's: v3's backward must consume it under use_version(1)
    module = device.backend("pool2d", "cpu")
    x = R.standard_normal((2, 3, 6, 6))
    dout = R.standard_normal((2, 3, 3, 3))
    with device.use_version("pool2d", 3):
        out, cache = ops.maxpool2d_forward(x, 2)
    assert cache.version == 3
    with device.using("reference"):
        want = ops.maxpool2d_backward(dout, ops.maxpool2d_forward(x, 2)[1])

    def refuse(*args):
        raise AssertionError("v1's backward was given v3's cache")
    monkeypatch.setitem(module.VERSIONS[1], "maxpool2d_backward", refuse)
    with device.use_version("pool2d", 1):
        got = ops.maxpool2d_backward(dout, cache)
    assert_close(got, want)


@pytest.mark.parametrize("family,op,args", [
    ("conv2d", "conv2d", (X4, R.standard_normal((4, 3, 3, 3)), None)),
    ("dense", "dense", (X2, R.standard_normal((5, 4)))),
    ("attention", "attention", (X3, X3, X3)),
    ("depthwise_conv2d", "depthwise_conv2d", (X4, R.standard_normal((6, 1, 3, 3)), np.zeros(6))),
    ("embedding", "embedding", (np.array([[0, 2], [2, 2]]), R.standard_normal((3, 4)))),
])
def test_every_version_pair_forward_then_backward_under_another(family, op, args):
    fwd, bwd = getattr(ops, f"{op}_forward"), getattr(ops, f"{op}_backward")
    with device.using("reference"):
        out, cache = fwd(*args)
        want = bwd(np.ones_like(out), cache)
    want = want if isinstance(want, tuple) else (want,)
    versions = device.versions(family, "cpu")
    for made in versions:
        with device.use_version(family, made):
            out, cache = fwd(*args)
        for active in versions:
            with device.use_version(family, active):
                got = bwd(np.ones_like(out), cache)
            got = got if isinstance(got, tuple) else (got,)
            for g, w in zip(got, want, strict=True):
                if w is not None:
                    assert_close(g, w)
