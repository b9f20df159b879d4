"""Attention op: every CPU version against the reference, finite differences on the reference,
PyTorch parity, the fully-masked-row rule, dropout, causality, bad input."""
import re

import numpy as np
import pytest
from helpers import assert_close, kernel_cases, on

import tinydl as td
from tinydl import device, ops
from tinydl.kernels.cpu import attention as cpu_attention
from tinydl.kernels.reference import attention as ref_attention

CASES = kernel_cases("attention")


def _inputs(rng, lead, L, S, E, Ev, dtype):
    q = rng.standard_normal(lead + (L, E)).astype(dtype)
    k = rng.standard_normal(lead + (S, E)).astype(dtype)
    v = rng.standard_normal(lead + (S, Ev)).astype(dtype)
    dout = rng.standard_normal(lead + (L, Ev)).astype(dtype)
    return q, k, v, dout


def _run(dev, version, q, k, v, dout, **kw):
    with on(dev, "attention", version):
        out, cache = ops.attention_forward(q, k, v, **kw)
        return (out,) + tuple(ops.attention_backward(dout, cache))


def _options(rng, lead, L, S, dtype):
    bool_mask = rng.random(lead + (L, S)) > 0.4
    bool_mask[..., 0, :] = False            # a fully masked row
    return {
        "plain": {},
        "causal": {"is_causal": True},
        "bool mask": {"attn_mask": bool_mask},
        "float mask (L, S)": {"attn_mask": rng.standard_normal((L, S))},
        "key padding (1, S)": {"attn_mask": rng.random((1, S)) > 0.3},
        "scale": {"scale": 0.37},
        "dropout": {"dropout_p": 0.3, "seed": 11},
        "all": {"attn_mask": bool_mask, "dropout_p": 0.5, "seed": 3, "scale": 1.7},
    }


@pytest.mark.parametrize("dev,version", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("lead,L,S,E,Ev", [((2, 3), 7, 13, 5, 4), ((1,), 33, 33, 8, 8), ((), 1, 9, 3, 6)])
def test_every_version_matches_reference(dev, version, dtype, lead, L, S, E, Ev, rng):
    q, k, v, dout = _inputs(rng, lead, L, S, E, Ev, dtype)
    for name, kw in _options(rng, lead, L, S, dtype).items():
        want = _run("reference", None, q, k, v, dout, **kw)
        got = _run(dev, version, q, k, v, dout, **kw)
        for a, b in zip(got, want, strict=True):
            assert a.dtype == np.dtype(dtype), name
            assert_close(a, b)


@pytest.mark.parametrize("version", device.versions("attention", "cpu"))
def test_chunked_and_blocked_paths(version, rng, monkeypatch):
    # force v3 into several query chunks and v2 into several key blocks, with odd remainders
    monkeypatch.setattr(cpu_attention, "CHUNK", 3 * 2 * 41)
    q, k, v, dout = _inputs(rng, (2,), 37, 150, 6, 5, np.float64)
    mask = rng.random((2, 37, 150)) > 0.2
    mask[1, 5] = False                     # a fully masked row inside a chunk
    for kw in ({}, {"is_causal": True}, {"attn_mask": mask, "dropout_p": 0.25, "seed": 9}):
        want = _run("reference", None, q, k, v, dout, **kw)
        for a, b in zip(_run("cpu", version, q, k, v, dout, **kw), want, strict=True):
            assert_close(a, b)


@pytest.mark.parametrize("dev,version", CASES)
def test_non_contiguous_and_outliers(dev, version, rng):
    base = rng.standard_normal((2, 9, 4)) * 30.0     # scores in the thousands: exp must not overflow
    q = base[:, :, ::2]                               # strided views
    k = np.swapaxes(rng.standard_normal((2, 2, 11)) * 30.0, 1, 2)
    v = rng.standard_normal((2, 11, 3))
    dout = rng.standard_normal((2, 9, 3))
    want = _run("reference", None, q, k, v, dout)
    got = _run(dev, version, q, k, v, dout)
    for a, b in zip(got, want, strict=True):
        assert np.all(np.isfinite(a))
        assert_close(a, b)


def test_hand_worked_values():
    # one query, two keys with scores 0 and ln 3 (scale 1): weights 1/4, 3/4
    q = np.array([[1.0]])
    k = np.array([[0.0], [np.log(3.0)]])
    v = np.array([[4.0, 0.0], [0.0, 8.0]])
    for dev in ("reference", "cpu"):
        with device.using(dev):
            out, cache = ops.attention_forward(q, k, v, scale=1.0)
            np.testing.assert_allclose(out, [[1.0, 6.0]], rtol=1e-12)
            dq, dk, dv = ops.attention_backward(np.array([[1.0, 0.0]]), cache)
            # dv = p^T dout; dp = dout v^T = [4, 0]; ds = p (dp - p.dp) = [1/4*3, 3/4*(-1)]
            np.testing.assert_allclose(dv, [[0.25, 0.0], [0.75, 0.0]], rtol=1e-12)
            np.testing.assert_allclose(dq, [[0.75 * 0 + (-0.75) * np.log(3.0)]], rtol=1e-12)
            np.testing.assert_allclose(dk, [[0.75], [-0.75]], rtol=1e-12)


def test_reference_finite_differences(rng):
    q, k, v, _ = _inputs(rng, (2,), 3, 4, 3, 2, np.float64)
    mask = rng.random((3, 4)) > 0.3
    mask[:, 0] = True
    with device.using("reference"):
        for kw in ({}, {"is_causal": True}, {"attn_mask": mask, "scale": 0.8},
                   {"attn_mask": rng.standard_normal((2, 1, 4)), "dropout_p": 0.4, "seed": 5}):
            assert td.gradcheck((ops.attention_forward, ops.attention_backward), [q, k, v],
                                kwargs=kw, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("dev,version", [("reference", None)] + CASES)
def test_fully_masked_rows_give_zero_output_and_gradient(dev, version, rng):
    q, k, v, dout = _inputs(rng, (2,), 4, 5, 3, 2, np.float64)
    mask = np.ones((2, 4, 5), dtype=bool)
    mask[0, 1] = False
    fmask = np.where(mask, 0.0, -np.inf)
    for m in (mask, fmask):
        out, dq, dk, dv = _run(dev, version, q, k, v, dout, attn_mask=m)
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(dq))
        np.testing.assert_array_equal(out[0, 1], 0.0)
        np.testing.assert_array_equal(dq[0, 1], 0.0)
        # the other rows are untouched by the masked one
        ref = _run("reference", None, q[:, 2:], k, v, dout[:, 2:], attn_mask=mask[:, 2:])
        assert_close(out[:, 2:], ref[0])


@pytest.mark.parametrize("dev,version", [("reference", None)] + CASES)
def test_causality(dev, version, rng):
    q, k, v, _ = _inputs(rng, (1, 2), 8, 8, 4, 3, np.float64)
    t = 4
    with on(dev, "attention", version):
        out1, _ = ops.attention_forward(q, k, v, is_causal=True)
        q2, k2, v2 = q.copy(), k.copy(), v.copy()
        for a in (q2, k2, v2):
            a[..., t + 1:, :] += 10.0 * rng.standard_normal(a[..., t + 1:, :].shape)
        out2, _ = ops.attention_forward(q2, k2, v2, is_causal=True)
    np.testing.assert_array_equal(out1[..., : t + 1, :], out2[..., : t + 1, :])
    assert not np.allclose(out1[..., t + 1:, :], out2[..., t + 1:, :])


@pytest.mark.parametrize("dev,version", [("reference", None)] + CASES)
def test_dropout_mask_is_seeded_and_shared(dev, version, rng):
    from tinydl.kernels.reference import dropout as ref_dropout
    q, k, v, dout = _inputs(rng, (2,), 6, 7, 3, 7, np.float64)
    v = np.broadcast_to(np.eye(7), (2, 7, 7)).copy()   # out = dropped-out weights themselves
    with on(dev, "attention", version):
        a, _ = ops.attention_forward(q, k, v, dropout_p=0.4, seed=123)
        b, _ = ops.attention_forward(q, k, v, dropout_p=0.4, seed=123)
        c, _ = ops.attention_forward(q, k, v, dropout_p=0.4, seed=124)
        p, _ = ops.attention_forward(q, k, v)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a != 0, c != 0)
    # the mask is the foundation dropout's hash of (seed, flat weight index)
    keep = (ref_dropout.uniform(123, a.size) >= 0.4).reshape(a.shape)
    np.testing.assert_array_equal(a != 0, keep)
    np.testing.assert_allclose(a[keep], p[keep] / 0.6, rtol=1e-12)


def test_large_dropout_keeps_about_one_minus_p():
    with device.using("reference"):
        keep = ref_attention.dropout_keep(7, 4, 64, 64, 0.3)
    assert abs(keep.mean() - 0.7) < 0.01


def test_versions_table_matches_docstring():
    doc = cpu_attention.__doc__
    listed = sorted(int(n) for n in re.findall(r"^v(\d+)\s", doc, flags=re.M))
    assert listed == sorted(cpu_attention.VERSIONS) == device.versions("attention", "cpu")
    assert cpu_attention.DEFAULT in cpu_attention.VERSIONS


# ---- PyTorch parity ---------------------------------------------------------------------------
PARITY = [
    ("no mask, 3-D", (2,), 5, 5, 4, 4, {}),
    ("no mask, 4-D, L != S, Ev != E", (2, 3), 5, 7, 4, 6, {}),
    ("boolean mask", (2, 3), 5, 7, 4, 3, "bool"),
    ("float mask", (2, 3), 6, 4, 5, 5, "float"),
    ("causal, L != S", (2, 2), 6, 9, 4, 4, {"is_causal": True}),
    ("causal, L > S", (1, 2), 9, 4, 4, 2, {"is_causal": True}),
    ("custom scale", (3,), 4, 4, 8, 8, {"scale": 0.123}),
]


@pytest.mark.parametrize("dev,version", [("reference", None)] + CASES)
@pytest.mark.parametrize("name,lead,L,S,E,Ev,kw", PARITY, ids=[p[0] for p in PARITY])
def test_torch_parity(dev, version, name, lead, L, S, E, Ev, kw, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    q, k, v, dout = _inputs(rng, lead, L, S, E, Ev, np.float64)
    if kw == "bool":
        mask = rng.random(lead[-1:] + (L, S)) > 0.4
        mask[..., 1, :] = False               # torch 2.13's math backend: 0 for a fully masked row
        kw = {"attn_mask": mask}
    elif kw == "float":
        kw = {"attn_mask": rng.standard_normal((L, S))}
    got = _run(dev, version, q, k, v, dout, **kw)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tkw = dict(kw)
    if "attn_mask" in tkw:
        tkw["attn_mask"] = torch.tensor(tkw["attn_mask"])
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel(SDPBackend.MATH):
        out = F.scaled_dot_product_attention(tq, tk, tv, **tkw)
    out.backward(torch.tensor(dout))
    for a, t in zip(got, (out, tq.grad, tk.grad, tv.grad), strict=True):
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-8, atol=1e-10)


# ---- bad input -----------------------------------------------------------------------------------
def _bad(rng):
    q = rng.standard_normal((2, 5, 4))
    return q, rng.standard_normal((2, 6, 4)), rng.standard_normal((2, 6, 3))


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_bad_input(dev, rng, monkeypatch):
    q, k, v = _bad(rng)

    def boom(*a, **kw):
        raise AssertionError("a kernel ran on bad input")

    for mod in (ref_attention, cpu_attention):
        monkeypatch.setattr(mod, "attention_forward", boom)
    with device.using(dev):
        with pytest.raises(ValueError, match=r"E=4.*\(2, 6, 5\)"):
            ops.attention_forward(q, rng.standard_normal((2, 6, 5)), v)
        with pytest.raises(ValueError, match=r"S=6.*\(2, 7, 3\)"):
            ops.attention_forward(q, k, rng.standard_normal((2, 7, 3)))
        with pytest.raises(ValueError, match=r"\(2, 5, 6\).*\(3, 5, 6\)"):
            ops.attention_forward(q, k, v, attn_mask=np.ones((3, 5, 6), dtype=bool))
        with pytest.raises(ValueError, match=r"\(2, 5, 6\).*\(5, 7\)"):
            ops.attention_forward(q, k, v, attn_mask=np.ones((5, 7)))
        with pytest.raises(ValueError, match="is_causal.*attn_mask.*received both"):
            ops.attention_forward(q, k, v, attn_mask=np.ones((5, 6), dtype=bool), is_causal=True)
        with pytest.raises(ValueError, match="leading batch dims"):
            ops.attention_forward(q, rng.standard_normal((3, 6, 4)), rng.standard_normal((3, 6, 3)))
        with pytest.raises(ValueError, match="dropout_p.*1.0"):
            ops.attention_forward(q, k, v, dropout_p=1.0)
        with pytest.raises(ValueError, match="at least 2-D"):
            ops.attention_forward(q[0, 0], k, v)
        with pytest.raises(TypeError, match="dtype"):
            ops.attention_forward(q, k.astype(np.float32), v)
        with pytest.raises(TypeError, match="boolean or float"):
            ops.attention_forward(q, k, v, attn_mask=np.ones((5, 6), dtype=np.int64))
    monkeypatch.undo()
    with device.using(dev):
        out, cache = ops.attention_forward(q, k, v)
        with pytest.raises(ValueError, match=r"\(2, 5, 3\).*\(2, 5, 4\)"):
            ops.attention_backward(np.ones((2, 5, 4)), cache)

