"""Bounds-checked fuzz: every op family and every cpu kernel version against the reference.

    python .ci/fuzz.py [--scale 1.0] [--seed 0]

Random shapes (batch 1, odd sizes, windows that just fit, non-contiguous input views) run
forward and backward on each cpu version and on the reference, in float64; the results must
agree. Numba is compiled with NUMBA_BOUNDSCHECK=1 into a FRESH temporary NUMBA_CACHE_DIR, both
set here before Numba is imported: Numba's on-disk cache ignores NUMBA_BOUNDSCHECK, so with a
warm cache the checks would silently be off. An out-of-bounds access is an IndexError, reported
as a failure. Bad shapes and foreign caches must be refused with ValueError/TypeError.

Prints the cases run per family and the total time; exits 1 on any failure.
"""
import os
import sys
import tempfile

os.environ["NUMBA_BOUNDSCHECK"] = "1"
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="tinydl-fuzz-numba-")
if "numba" in sys.modules:
    raise SystemExit("fuzz.py must set NUMBA_BOUNDSCHECK before Numba is imported")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import atexit  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from tinydl import device, ops  # noqa: E402
from tinydl.ops import merge  # noqa: E402

assert numba.config.BOUNDSCHECK, "Numba did not pick up NUMBA_BOUNDSCHECK=1"
atexit.register(shutil.rmtree, os.environ["NUMBA_CACHE_DIR"], ignore_errors=True)

RTOL, ATOL = 1e-7, 1e-9


# -- helpers ------------------------------------------------------------------------------------
def view(rng, a):
    """Sometimes a non-contiguous view holding the same values (the ops must copy it)."""
    if a.ndim < 2 or rng.random() < 0.5:
        return a
    axes = list(range(a.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return np.ascontiguousarray(a.transpose(axes)).transpose(axes)


def r(rng, lo, hi):
    """An int in [lo, hi], 1 and odd sizes more often than chance."""
    u = rng.random()
    if u < 0.2:
        return lo
    return int(rng.integers(lo, hi + 1))


def normal(rng, *shape):
    return rng.standard_normal(shape)


def compare(got, want, what):
    got = got if isinstance(got, (tuple, list)) else (got,)
    want = want if isinstance(want, (tuple, list)) else (want,)
    if len(got) != len(want):
        raise AssertionError(f"{what}: {len(got)} results, the reference has {len(want)}")
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if w is None or g is None:
            if (w is None) != (g is None):
                raise AssertionError(f"{what}[{i}]: None on one side only")
            continue
        g, w = np.asarray(device.to_numpy(g)), np.asarray(device.to_numpy(w))
        if g.shape != w.shape:
            raise AssertionError(f"{what}[{i}]: shape {g.shape}, the reference has {w.shape}")
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=f"{what}[{i}]")


def pair_run(fwd, bwd, args, kwargs, dout_of, where):
    """(out, grads) of fwd/bwd on ``where`` = (device, family, version)."""
    dev, family, version = where
    ctx = device.use_version(family, version, dev) if version is not None else _null()
    with device.using(dev), ctx:
        out, cache = fwd(*args, **kwargs)
        grads = bwd(dout_of(out), cache)
    return [out] + (list(grads) if isinstance(grads, (tuple, list)) else [grads])


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# -- the cases: each returns a list of (name, fwd, bwd, args, kwargs, dout_of) ------------------
def dense_case(rng):
    n, i, u = r(rng, 1, 7), r(rng, 1, 9), r(rng, 1, 8)
    lead = (n,) if rng.random() < 0.6 else (n, r(rng, 1, 4))
    x, w = normal(rng, *lead, i), normal(rng, i, u)
    b = normal(rng, u) if rng.random() < 0.7 else None
    return [("dense", ops.dense_forward, ops.dense_backward, (view(rng, x), view(rng, w), b), {},
             lambda o: rng.standard_normal(o.shape))]


def activations_case(rng):
    shape = tuple(r(rng, 1, 6) for _ in range(r(rng, 1, 3)))
    x = view(rng, normal(rng, *shape) * 3)
    cases = []
    for op in ("relu", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "elu", "selu", "softplus"):
        cases.append((op, getattr(ops, f"{op}_forward"), getattr(ops, f"{op}_backward"), (x,), {},
                      lambda o: rng.standard_normal(o.shape)))
    axis = int(rng.integers(-len(shape), len(shape)))
    cases.append(("softmax", ops.softmax_forward, ops.softmax_backward, (x,), {"axis": axis},
                  lambda o: rng.standard_normal(o.shape)))
    return cases


def dropout_case(rng):
    x = view(rng, normal(rng, r(rng, 1, 5), r(rng, 1, 9)))
    rate = float(rng.choice([0.0, 0.3, 0.7]))
    return [("dropout", ops.dropout_forward, ops.dropout_backward,
             (x, rate, int(rng.integers(0, 2**63))), {"training": bool(rng.random() < 0.8)},
             lambda o: rng.standard_normal(o.shape))]


def losses_case(rng):
    n, c = r(rng, 1, 6), r(rng, 1, 7)
    a = normal(rng, n, c) * 3
    p = 1 / (1 + np.exp(-a))
    labels = rng.integers(0, c, n)
    soft = rng.dirichlet(np.ones(c), n)
    one = lambda o: float(rng.standard_normal())  # noqa: E731
    return [
        ("softmax_cross_entropy", ops.softmax_cross_entropy_forward, ops.softmax_cross_entropy_backward,
         (view(rng, a), labels if rng.random() < 0.6 else soft), {}, one),
        ("sigmoid_binary_cross_entropy", ops.sigmoid_binary_cross_entropy_forward,
         ops.sigmoid_binary_cross_entropy_backward, (a, rng.random(a.shape)), {}, one),
        ("binary_cross_entropy", ops.binary_cross_entropy_forward, ops.binary_cross_entropy_backward,
         (p, rng.random(a.shape) > 0.5), {}, one),
        ("categorical_cross_entropy", ops.categorical_cross_entropy_forward,
         ops.categorical_cross_entropy_backward, (p, labels if rng.random() < 0.6 else soft), {}, one),
        ("mse", ops.mse_forward, ops.mse_backward, (a, rng.standard_normal(a.shape)), {}, one),
        ("mae", ops.mae_forward, ops.mae_backward, (view(rng, a), rng.standard_normal(a.shape)), {}, one),
        ("huber", ops.huber_forward, ops.huber_backward, (a, rng.standard_normal(a.shape)),
         {"delta": float(rng.choice([0.5, 1.0, 2.0]))}, one),
    ]


def _window(rng, size_max):
    # (window, stride, pad before, pad after, size) with the window fitting the padded axis
    k = r(rng, 1, 4)
    s = r(rng, 1, 3)
    pb, pa = int(rng.integers(0, k)), int(rng.integers(0, k))
    size = max(1, r(rng, max(1, k - pb - pa), size_max))
    return k, s, pb, pa, size


def conv2d_case(rng):
    if rng.random() < 0.25:   # Winograd: 3x3 stride 1, >= 16 channels (v9 from 14x14 outputs)
        n, c, f = r(rng, 1, 2), 16, 16
        lo, hi = (14, 17) if rng.random() < 0.5 else (3, 7)
        x = normal(rng, n, c, r(rng, lo, hi), r(rng, lo, hi))
        w = normal(rng, f, c, 3, 3)
        stride, pad = 1, int(rng.integers(0, 3))
    else:
        (kh, sh, pt, pb, h), (kw, sw, pl, pr, wd) = _window(rng, 9), _window(rng, 9)
        n, c, f = r(rng, 1, 3), r(rng, 1, 4), r(rng, 1, 5)
        x, w = normal(rng, n, c, h, wd), normal(rng, f, c, kh, kw)
        stride, pad = (sh, sw), (pt, pb, pl, pr)
    b = normal(rng, w.shape[0]) if rng.random() < 0.7 else None
    args, kw, d = (view(rng, x), w, b), {"stride": stride, "padding": pad}, lambda o: rng.standard_normal(o.shape)
    return [("conv2d", ops.conv2d_forward, ops.conv2d_backward, args, kw, d),
            ("conv2d_relu", ops.conv2d_relu_forward, ops.conv2d_relu_backward, args, kw, d)]


def pool2d_case(rng):
    (kh, sh, pt, pb, h), (kw, sw, pl, pr, wd) = _window(rng, 9), _window(rng, 9)
    if rng.random() < 0.3:    # v3's 2x2 stride-2 path
        kh = kw = sh = sw = 2
        pt = pb = pl = pr = 0
        h, wd = r(rng, 2, 9), r(rng, 2, 9)
    x = view(rng, normal(rng, r(rng, 1, 3), r(rng, 1, 3), h, wd))
    kw_ = {"pool_size": (kh, kw), "stride": (sh, sw), "padding": (pt, pb, pl, pr)}
    d = lambda o: rng.standard_normal(o.shape)  # noqa: E731
    return [("maxpool2d", ops.maxpool2d_forward, ops.maxpool2d_backward, (x,), kw_, d),
            ("avgpool2d", ops.avgpool2d_forward, ops.avgpool2d_backward, (x,), kw_, d),
            ("global_avgpool2d", ops.global_avgpool2d_forward, ops.global_avgpool2d_backward, (x,), {}, d)]


def batchnorm_case(rng):
    c = r(rng, 1, 4)
    shape = (r(rng, 1, 5), c) if rng.random() < 0.4 else (r(rng, 1, 3), c, r(rng, 1, 5), r(rng, 1, 5))
    x = view(rng, normal(rng, *shape))
    gamma, beta = normal(rng, c), normal(rng, c)
    training = bool(rng.random() < 0.7)
    stats = (rng.standard_normal(c), rng.random(c) + 0.5)

    def fwd(x, gamma, beta):   # fresh moving statistics for every device
        return ops.batchnorm_forward(x, gamma, beta, stats[0].copy(), stats[1].copy(), 0.9, 1e-3, training)

    def fwd_relu(x, gamma, beta):
        return ops.batchnorm_relu_forward(x, gamma, beta, stats[0].copy(), stats[1].copy(), 0.9, 1e-3, training)
    return [("batchnorm", fwd, ops.batchnorm_backward, (x, gamma, beta), {},
             lambda o: rng.standard_normal(o.shape)),
            ("batchnorm_relu", fwd_relu, ops.batchnorm_relu_backward, (x, gamma, beta), {},
             lambda o: rng.standard_normal(o.shape))]


def layernorm_case(rng):
    shape = tuple(r(rng, 1, 4) for _ in range(r(rng, 0, 2))) + (r(rng, 1, 9),)
    e = shape[-1]
    return [("layernorm", ops.layernorm_forward, ops.layernorm_backward,
             (view(rng, normal(rng, *shape)), normal(rng, e), normal(rng, e)), {"eps": 1e-3},
             lambda o: rng.standard_normal(o.shape))]


def attention_case(rng):
    lead = tuple(r(rng, 1, 3) for _ in range(r(rng, 1, 2)))
    L, S, E, Ev = r(rng, 1, 9), r(rng, 1, 70), r(rng, 1, 5), r(rng, 1, 5)
    q, k, v = normal(rng, *lead, L, E), normal(rng, *lead, S, E), normal(rng, *lead, S, Ev)
    kw = {}
    u = rng.random()
    if u < 0.25:
        kw["is_causal"] = True
    elif u < 0.5:
        kw["attn_mask"] = rng.random((L, S)) < 0.7
    elif u < 0.65:
        kw["attn_mask"] = rng.standard_normal((1,) * len(lead) + (L, S))
    if rng.random() < 0.3:
        kw["dropout_p"], kw["seed"] = 0.25, int(rng.integers(0, 2**62))
    return [("attention", ops.attention_forward, ops.attention_backward, (view(rng, q), k, v), kw,
             lambda o: rng.standard_normal(o.shape))]


def sequence_case(rng):
    n, p = r(rng, 1, 3), r(rng, 1, 3)
    x4 = normal(rng, n, r(rng, 1, 3), p * r(rng, 1, 3), p * r(rng, 1, 3))
    L, h, dh = r(rng, 1, 6), r(rng, 1, 3), r(rng, 1, 3)
    x3 = normal(rng, n, L, h * dh)
    d = lambda o: rng.standard_normal(o.shape)  # noqa: E731
    return [
        ("patchify", ops.patchify_forward, ops.patchify_backward, (view(rng, x4), p), {}, d),
        ("concat_token", ops.concat_token_forward, ops.concat_token_backward, (x3, normal(rng, h * dh)), {}, d),
        ("pos_embed", ops.pos_embed_forward, ops.pos_embed_backward,
         (x3, normal(rng, L + r(rng, 0, 3), h * dh)), {}, d),
        ("sequence_pool", ops.sequence_pool_forward, ops.sequence_pool_backward,
         (x3, str(rng.choice(["cls", "mean"]))), {}, d),
        ("split_heads", ops.split_heads_forward, ops.split_heads_backward, (view(rng, x3), h), {}, d),
        ("merge_heads", ops.merge_heads_forward, ops.merge_heads_backward, (normal(rng, n, h, L, dh),), {}, d),
    ]


def rescale_case(rng):
    x = view(rng, normal(rng, *(r(rng, 1, 5) for _ in range(r(rng, 1, 4)))))
    return [("rescale", ops.rescale_forward, ops.rescale_backward, (x, float(rng.normal()), float(rng.normal())),
             {}, lambda o: rng.standard_normal(o.shape))]


def upsampling_case(rng):
    x = view(rng, normal(rng, r(rng, 1, 3), r(rng, 1, 3), r(rng, 1, 5), r(rng, 1, 5)))
    return [("upsample2d", ops.upsample2d_forward, ops.upsample2d_backward, (x, (r(rng, 1, 3), r(rng, 1, 3))),
             {}, lambda o: rng.standard_normal(o.shape))]


def embedding_case(rng):
    V, D = r(rng, 1, 6), r(rng, 1, 40)   # D > 16: several of v2's column blocks
    ids = rng.integers(0, V, tuple(r(rng, 1, 4) for _ in range(r(rng, 1, 2))))
    return [("embedding", ops.embedding_forward, ops.embedding_backward, (ids, view(rng, normal(rng, V, D))),
             {}, lambda o: rng.standard_normal(o.shape))]


def conv2d_transpose_case(rng):
    kh, kw, sh, sw = r(rng, 1, 4), r(rng, 1, 4), r(rng, 1, 3), r(rng, 1, 3)
    pt, pb, pl, pr = (int(rng.integers(0, k)) for k in (kh, kh, kw, kw))
    n, c, f = r(rng, 1, 3), r(rng, 1, 4), r(rng, 1, 4)
    # input sizes whose output (H - 1) * sh - pt - pb + kh is >= 1
    h = max(r(rng, 1, 6), -(-(pt + pb - kh + 1) // sh) + 1)
    wd = max(r(rng, 1, 6), -(-(pl + pr - kw + 1) // sw) + 1)
    x, w = normal(rng, n, c, h, wd), normal(rng, c, f, kh, kw)
    b = normal(rng, f) if rng.random() < 0.7 else None
    kw_ = {"stride": (sh, sw), "padding": (pt, pb, pl, pr)}
    if rng.random() < 0.4:   # PyTorch's output_padding: any size the convolution maps back
        base = [(h - 1) * sh - pt - pb + kh, (wd - 1) * sw - pl - pr + kw]
        kw_["output_size"] = (base[0] + int(rng.integers(0, sh)), base[1] + int(rng.integers(0, sw)))
    return [("conv2d_transpose", ops.conv2d_transpose_forward, ops.conv2d_transpose_backward,
             (view(rng, x), w, b), kw_, lambda o: rng.standard_normal(o.shape))]


def depthwise_conv2d_case(rng):
    (kh, sh, pt, pb, h), (kw, sw, pl, pr, wd) = _window(rng, 8), _window(rng, 8)
    n, c, m = r(rng, 1, 3), r(rng, 1, 4), r(rng, 1, 3)
    x, w = normal(rng, n, c, h, wd), normal(rng, c * m, 1, kh, kw)
    b = normal(rng, c * m) if rng.random() < 0.7 else None
    return [("depthwise_conv2d", ops.depthwise_conv2d_forward, ops.depthwise_conv2d_backward,
             (view(rng, x), w, b), {"stride": (sh, sw), "padding": (pt, pb, pl, pr)},
             lambda o: rng.standard_normal(o.shape))]


def augmentation_case(rng):
    n, h, wd = r(rng, 1, 4), r(rng, 1, 6), r(rng, 1, 6)
    x = view(rng, normal(rng, n, r(rng, 1, 3), h, wd))
    ch, cw = r(rng, 1, h), r(rng, 1, wd)
    top, left = rng.integers(0, h - ch + 1, n), rng.integers(0, wd - cw + 1, n)
    d = lambda o: rng.standard_normal(o.shape)  # noqa: E731
    return [("flip2d", ops.flip2d_forward, ops.flip2d_backward,
             (x, rng.random(n) < 0.5, rng.random(n) < 0.5), {}, d),
            ("crop2d", ops.crop2d_forward, ops.crop2d_backward, (x, top, left, ch, cw), {}, d)]


def merge_case(rng):
    shape = tuple(r(rng, 1, 4) for _ in range(r(rng, 2, 4)))
    xs = [view(rng, normal(rng, *shape)) for _ in range(r(rng, 2, 4))]
    ax = int(rng.integers(1, len(shape)))
    parts = [normal(rng, *(shape[:ax] + (r(rng, 1, 3),) + shape[ax + 1:])) for _ in range(r(rng, 2, 3))]
    d = lambda o: rng.standard_normal(o.shape)  # noqa: E731
    return [(op, getattr(merge, f"{op}_forward"), getattr(merge, f"{op}_backward"), (xs,), {}, d)
            for op in ("add", "average", "multiply")] + [
            ("concatenate", merge.concatenate_forward, merge.concatenate_backward, (parts,),
             {"axis": ax - len(shape) if rng.random() < 0.5 else ax}, d)]


FAMILIES = {
    "dense": dense_case, "activations": activations_case, "dropout": dropout_case,
    "losses": losses_case, "conv2d": conv2d_case, "pool2d": pool2d_case,
    "batchnorm": batchnorm_case, "layernorm": layernorm_case, "attention": attention_case,
    "sequence": sequence_case, "rescale": rescale_case, "upsampling": upsampling_case,
    "embedding": embedding_case, "conv2d_transpose": conv2d_transpose_case,
    "depthwise_conv2d": depthwise_conv2d_case, "augmentation": augmentation_case, "merge": merge_case,
}
# cases per family at --scale 1 (each case runs every op of the family on every cpu version)
CASES = {"dense": 40, "activations": 30, "dropout": 30, "losses": 30, "conv2d": 40, "pool2d": 40,
         "batchnorm": 30, "layernorm": 30, "attention": 30, "sequence": 30,
         "elementwise": 30, "optim": 30,
         # the families added by the Keras branches: small counts, the step's time stays ~the same
         "rescale": 6, "upsampling": 8, "embedding": 8, "conv2d_transpose": 10, "depthwise_conv2d": 10,
         "augmentation": 8, "merge": 8}


# -- families without a forward/backward pair ---------------------------------------------------
def elementwise_run(rng):
    shape = tuple(r(rng, 1, 5) for _ in range(r(rng, 1, 3)))
    a, b = normal(rng, *shape), normal(rng, *shape)
    k = int(rng.integers(0, len(shape) + 1))
    av = view(rng, a)
    results = {}
    for dev in ("cpu", "reference"):
        with device.using(dev):
            dst, sc = a.copy(), a.copy()
            ops.accumulate(dst, b)
            ops.scale_(sc, 1.7)
            results[dev] = (ops.add(av, b), dst, sc, np.array(ops.sum_squares(a)), ops.sum_to(av, shape[k:]))
    compare(results["cpu"], results["reference"], "elementwise")
    return 5


def optim_run(rng):
    shape = tuple(r(rng, 1, 5) for _ in range(r(rng, 1, 2)))
    p, g, m, v = normal(rng, *shape), normal(rng, *shape), normal(rng, *shape), rng.random(shape)
    nesterov, t, decoupled, gv = bool(rng.random() < 0.5), int(rng.integers(1, 5)), bool(rng.random() < 0.5), view(rng, g)
    results = {}
    for dev in ("cpu", "reference"):
        with device.using(dev):
            p1, vel = p.copy(), m.copy()
            ops.sgd_update(p1, gv, vel, 0.1, momentum=0.9, nesterov=nesterov, weight_decay=0.01)
            p2, m2, v2 = p.copy(), m.copy(), v.copy()
            ops.adam_update(p2, g, m2, v2, t, 0.01, weight_decay=0.1, decoupled=decoupled)
            p3, v3, mb = p.copy(), v.copy(), m.copy()
            ops.rmsprop_update(p3, gv, v3, mb, 0.01, momentum=0.5, weight_decay=0.01)
            p4, acc = p.copy(), v.copy()
            ops.adagrad_update(p4, g, acc, 0.1, weight_decay=0.01)
            results[dev] = (p1, vel, p2, m2, v2, p3, v3, mb, p4, acc)
    compare(results["cpu"], results["reference"], "optim")
    return 4


# -- bad input must be refused, not crash -------------------------------------------------------
BIG = 2**63
BAD = [
    lambda: ops.maxpool2d_forward(np.zeros((1, 1, 0, 20000)), pool_size=(2, 1), stride=1, padding=(1, 1, 0, 0)),
    lambda: ops.avgpool2d_forward(np.zeros((1, 1, 0, 5)), pool_size=(2, 1), stride=1, padding=(1, 1, 0, 0)),
    lambda: ops.maxpool2d_forward(np.zeros((1, 1, 4, 4)), 2, stride=BIG),
    lambda: ops.avgpool2d_forward(np.zeros((1, 1, 4, 4)), 5),
    lambda: ops.global_avgpool2d_forward(np.zeros((1, 1, 0, 3))),
    lambda: ops.conv2d_forward(np.zeros((1, 1, 4, 0)), np.zeros((1, 1, 1, 1)), None, padding=1),
    lambda: ops.conv2d_forward(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), None, stride=BIG),
    lambda: ops.conv2d_forward(np.zeros((1, 2, 4, 4)), np.zeros((1, 1, 3, 3)), None),
    lambda: ops.conv2d_forward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)), None),
    lambda: ops.softmax_forward(np.zeros((3, 0))),
    lambda: ops.dense_forward(np.zeros((2, 0)), np.zeros((0, 3))),
    lambda: ops.dense_forward(np.zeros((2, 3)), np.zeros((4, 3))),
    lambda: ops.sum_to(np.zeros((0, 3)), (3,)),
    lambda: ops.merge_heads_forward(np.zeros((2, 0, 3, 4))),
    lambda: ops.split_heads_forward(np.zeros((2, 3, 5)), 2),
    lambda: ops.patchify_forward(np.zeros((1, 1, 5, 4)), 2),
    lambda: ops.pos_embed_forward(np.zeros((1, 4, 3)), np.zeros((3, 3))),
    lambda: ops.layernorm_forward(np.zeros((2, 0)), np.zeros(0), np.zeros(0)),
    lambda: ops.batchnorm_forward(np.zeros((0, 2)), np.ones(2), np.zeros(2), np.zeros(2), np.ones(2)),
    lambda: ops.attention_forward(np.zeros((1, 2, 3)), np.zeros((1, 4, 2)), np.zeros((1, 4, 3))),
    lambda: ops.attention_forward(np.zeros((1, 0, 3)), np.zeros((1, 4, 3)), np.zeros((1, 4, 3))),
    lambda: ops.softmax_cross_entropy_forward(np.zeros((2, 3)), np.array([0, 3])),
    lambda: ops.softmax_cross_entropy_forward(np.zeros((0, 3)), np.zeros(0, dtype=int)),
    lambda: ops.mse_forward(np.zeros((2, 3)), np.zeros((3, 2))),
    lambda: ops.huber_forward(np.zeros((0, 3)), np.zeros((0, 3))),
    lambda: ops.upsample2d_forward(np.zeros((1, 0, 2, 2)), 2),
    lambda: ops.upsample2d_forward(np.zeros((1, 1, 2, 2)), (BIG, 1)),
    lambda: ops.embedding_forward(np.array([0, 3]), np.zeros((3, 2))),
    lambda: ops.embedding_forward(np.zeros((2, 0), dtype=int), np.zeros((3, 2))),
    lambda: ops.embedding_forward(np.array([0]), np.zeros((1, 0))),
    lambda: ops.conv2d_transpose_forward(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)), None, padding=1),
    lambda: ops.conv2d_transpose_forward(np.zeros((1, 1, 0, 2)), np.zeros((1, 1, 1, 1)), None),
    lambda: ops.conv2d_transpose_forward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)), None,
                                         stride=2, output_size=(9, 9)),
    lambda: ops.depthwise_conv2d_forward(np.zeros((1, 2, 2, 2)), np.zeros((2, 1, 3, 3)), None),
    lambda: ops.depthwise_conv2d_forward(np.zeros((1, 2, 0, 4)), np.zeros((2, 1, 1, 1)), None),
    lambda: ops.depthwise_conv2d_forward(np.zeros((1, 2, 4, 4)), np.zeros((3, 1, 1, 1)), None),
    lambda: ops.crop2d_forward(np.zeros((2, 1, 4, 4)), np.array([0, 2]), np.array([0, 0]), 3, 3),
    lambda: ops.crop2d_forward(np.zeros((2, 1, 4, 0)), np.array([0, 0]), np.array([0, 0]), 1, 1),
    lambda: ops.flip2d_forward(np.zeros((2, 0, 4, 4)), np.array([True, False]), np.array([True, True])),
    lambda: ops.flip2d_forward(np.zeros((2, 1, 4, 4)), np.array([True]), np.array([True])),
    lambda: merge.add_forward([np.zeros((2, 3)), np.zeros((3, 2))]),
    lambda: merge.multiply_forward([np.zeros((2, 0)), np.zeros((2, 0))]),
    lambda: merge.concatenate_forward([np.zeros((2, 3)), np.zeros((3, 3))], axis=1),
    lambda: merge.concatenate_forward([np.zeros((2, 3)), np.zeros((2, 3))], axis=0),
]


def foreign_caches(rng):
    """Every backward given every other op's cache, a tuple and None: a TypeError each."""
    x = rng.standard_normal((2, 3, 4, 4))
    made = {
        "maxpool2d": ops.maxpool2d_forward(x, 2)[1],
        "conv2d": ops.conv2d_forward(x, rng.standard_normal((2, 3, 3, 3)), None)[1],
        "softmax_cross_entropy": ops.softmax_cross_entropy_forward(x[0, 0], np.array([0, 1, 2, 3]))[1],
        "relu": ops.relu_forward(x)[1],
        "attention": ops.attention_forward(x[0], x[0], x[0])[1],
        "layernorm": ops.layernorm_forward(x, np.ones(4), np.zeros(4))[1],
    }
    backwards = [(n[:-9], getattr(ops, n)) for n in ops.__all__ if n.endswith("_backward")]
    backwards += [(n[:-9], getattr(merge, n)) for n in merge.__all__ if n.endswith("_backward")]
    count = 0
    for op, backward in backwards:
        for other, cache in list(made.items()) + [("tuple", (1, 2, 3)), ("None", None)]:
            if other == op:
                continue
            try:
                backward(np.ones(3), cache)
            except TypeError as e:
                if f"needs the cache returned by {op}_forward" not in str(e):
                    raise AssertionError(f"{op}_backward with a {other} cache: {e}") from None
            else:
                raise AssertionError(f"{op}_backward accepted the cache of {other}")
            count += 1
    return count


# -- the run ------------------------------------------------------------------------------------
def _shapes(args):
    # the arguments' shapes for a failure's message (a merge op's argument is a list of arrays)
    return [_shapes(a) if isinstance(a, (list, tuple)) else np.shape(a) for a in args]


def run_family(family, make, n, rng, failures):
    versions = device.versions(family, "cpu") or [None]
    cases = 0
    for _ in range(n):
        for name, fwd, bwd, args, kwargs, dout_of in make(rng):
            seed = int(rng.integers(0, 2**32))
            try:
                with device.using("reference"):
                    out, _ = fwd(*args, **kwargs)
                douts = np.random.default_rng(seed)
                dout = dout_of(out) if np.ndim(out) == 0 else douts.standard_normal(np.shape(out))
                dfix = (lambda o, d=dout: d)
                want = pair_run(fwd, bwd, args, kwargs, dfix, ("reference", family, None))
                for v in versions:
                    got = pair_run(fwd, bwd, args, kwargs, dfix, ("cpu", family, v))
                    compare(got, want, f"{name} cpu v{v} {_shapes(args)} {kwargs}")
                    cases += 1
            except Exception:   # noqa: BLE001  (every failure is reported, then the run goes on)
                failures.append(f"{family}/{name}: {traceback.format_exc(limit=3)}")
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every family's case count")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    failures, counts, times = [], {}, {}
    start, cpu_start = time.perf_counter(), time.process_time()
    for family, make in FAMILIES.items():
        t = time.perf_counter()
        counts[family] = run_family(family, make, max(1, round(CASES[family] * args.scale)), rng, failures)
        times[family] = time.perf_counter() - t
    for family, fn in (("elementwise", elementwise_run), ("optim", optim_run)):
        t = time.perf_counter()
        counts[family] = 0
        for _ in range(max(1, round(CASES[family] * args.scale))):
            try:
                counts[family] += fn(rng)
            except Exception:   # noqa: BLE001
                failures.append(f"{family}: {traceback.format_exc(limit=3)}")
        times[family] = time.perf_counter() - t
    t = time.perf_counter()
    refused = 0
    for i, bad in enumerate(BAD):
        try:
            bad()
        except (ValueError, TypeError):
            refused += 1
        except Exception:   # noqa: BLE001
            failures.append(f"bad input #{i}: not a ValueError/TypeError: {traceback.format_exc(limit=3)}")
        else:
            failures.append(f"bad input #{i} was accepted")
    try:
        refused += foreign_caches(rng)
    except Exception:   # noqa: BLE001
        failures.append(f"foreign caches: {traceback.format_exc(limit=3)}")
    counts["refused (bad shapes, foreign caches)"] = refused
    times["refused (bad shapes, foreign caches)"] = time.perf_counter() - t
    total = time.perf_counter() - start
    print(f"bounds-checked fuzz (NUMBA_BOUNDSCHECK=1, fresh cache {os.environ['NUMBA_CACHE_DIR']})")
    for family, n in counts.items():
        print(f"  {family:40s} {n:6d} cases  {times[family]:6.1f} s")
    print(f"  {'total':40s} {sum(counts.values()):6d} cases  {total:6.1f} s "
          f"(CPU time {time.process_time() - cpu_start:.1f} s)")
    for f in failures[:20]:
        print("FAIL", f)
    if failures:
        print(f"{len(failures)} failures")
        sys.exit(1)


if __name__ == "__main__":
    main()
