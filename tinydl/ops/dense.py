"""Dense: y = x @ w + b on the last axis of x (N, ..., in), w (in, units), b (units,) or None."""
from tinydl.ops import _checks
from tinydl.ops._cache import check_dout, run_backward, run_forward, run_params_backward

__all__ = ["dense_forward", "dense_backward"]


def dense_forward(x, w, b=None):
    """x (N, ..., in), w (in, units), b (units,) or None -> out (N, ..., units), cache."""
    x = _checks.as_float(x, "x")
    w = _checks.as_float(w, "w")
    if len(x.shape) < 2:
        raise ValueError(f"x must be (N, ..., in_features) with at least 2 axes; received shape {tuple(x.shape)}")
    _checks.ndim(w, "w", 2)
    _checks.nonempty(x, "x")
    _checks.nonempty(w, "w")
    if w.shape[0] != x.shape[-1]:
        raise ValueError(f"w must have shape ({x.shape[-1]}, units) to match x's last axis; "
                         f"received {tuple(w.shape)}")
    _checks.same_dtype(x, w=w)
    if b is not None:
        b = _checks.as_float(b, "b")
        _checks.shape_is(b, "b", (w.shape[1],))
        _checks.same_dtype(x, b=b)
    return run_forward("dense", "dense", x, w, b)


def dense_backward(dout, cache, need_dx=True):
    """dout (N, ..., units) -> dx (N, ..., in), dw (in, units), db (units,) (None without bias).

    need_dx=False: dx is None and its GEMM is skipped (the input needs no gradient)."""
    dout = check_dout(dout, cache, "dense")
    if not need_dx:
        return (None, *run_params_backward("dense", "dense", cache, dout))
    return run_backward("dense", "dense", cache, dout)
