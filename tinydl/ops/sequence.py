"""Sequence ops for transformers (family "sequence"): validation, then the device's kernels.

    patchify_forward(x, patch_size)      (N, C, H, W) -> (N, (H/p)(W/p), C*p*p)   ; backward -> dx
    concat_token_forward(x, token)       (N, L, E), (E,) -> (N, L+1, E)           ; backward -> dx, dtoken
    pos_embed_forward(x, pos)            (N, L, E) + (M, E)[:L], L <= M          ; backward -> dx, dpos (M, E)
    sequence_pool_forward(x, mode)       (N, L, E) -> (N, E), "cls" | "mean"      ; backward -> dx
    split_heads_forward(x, num_heads)    (N, L, H*D) -> (N, H, L, D)              ; backward -> dx
    merge_heads_forward(x)               (N, H, L, D) -> (N, L, H*D)              ; backward -> dx

Each forward returns (out, cache); each backward takes (dout, cache). No axis may be empty.
"""
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward


def _input(x, ndim, name="x"):
    x = _checks.as_float(x, name)
    _checks.ndim(x, name, ndim)
    _checks.nonempty(x, name)
    return x


def _back(op, dout, cache):
    return run_backward("sequence", op, cache, check_dout(dout, cache, op))


def patchify_forward(x, patch_size):
    x = _input(x, 4)
    p = _checks.positive_int(patch_size, "patch_size")
    N, C, H, W = (int(d) for d in x.shape)
    if H % p or W % p:
        raise ValueError(
            f"image height and width must be multiples of patch_size={p}; received an image "
            f"of {H}x{W} (x of shape {tuple(x.shape)})"
        )
    return run_forward("sequence", "patchify", x, p)


def patchify_backward(dout, cache):
    return _back("patchify", dout, cache)


def concat_token_forward(x, token):
    x, token = _input(x, 3), _checks.as_float(token, "token")
    _checks.same_dtype(x, token=token)
    _checks.shape_is(token, "token", (int(x.shape[2]),))
    return run_forward("sequence", "concat_token", x, token)


def concat_token_backward(dout, cache):
    return _back("concat_token", dout, cache)


def pos_embed_forward(x, pos):
    x, pos = _input(x, 3), _checks.as_float(pos, "pos")
    _checks.ndim(pos, "pos", 2)
    _checks.same_dtype(x, pos=pos)
    N, L, E = (int(d) for d in x.shape)
    M = int(pos.shape[0])
    if int(pos.shape[1]) != E or L > M:
        raise ValueError(
            f"pos must have shape (max_length >= {L}, {E}) for x of shape {tuple(x.shape)}; "
            f"received pos of shape {tuple(pos.shape)}"
        )
    return run_forward("sequence", "pos_embed", x, pos)


def pos_embed_backward(dout, cache):
    return _back("pos_embed", dout, cache)


def sequence_pool_forward(x, mode="cls"):
    x = _input(x, 3)
    if mode not in ("cls", "mean"):
        raise ValueError(f"mode must be 'cls' or 'mean'; received {mode!r}")
    return run_forward("sequence", "sequence_pool", x, mode)


def sequence_pool_backward(dout, cache):
    return _back("sequence_pool", dout, cache)


def split_heads_forward(x, num_heads):
    x = _input(x, 3)
    h = _checks.positive_int(num_heads, "num_heads")
    if int(x.shape[2]) % h:
        raise ValueError(
            f"the feature size must be divisible by num_heads={h}; received x of shape {tuple(x.shape)}"
        )
    return run_forward("sequence", "split_heads", x, h)


def split_heads_backward(dout, cache):
    return _back("split_heads", dout, cache)


def merge_heads_forward(x):
    x = _input(x, 4)
    return run_forward("sequence", "merge_heads", x)


def merge_heads_backward(dout, cache):
    return _back("merge_heads", dout, cache)
