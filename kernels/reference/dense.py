"""Dense (fully connected) layer op, plain NumPy: the ground truth of kernels/cpu/dense.py.

    y = x @ w + b     x (N, ..., in) acting on the last axis, w (in, units), b (units,) or None
"""


def dense_forward(x, w, b):
    # x (N, ..., in), w (in, units), b (units,) or None -> out (N, ..., units)
    out = x @ w
    if b is not None:
        out += b
    cache = (x, w, b is not None)
    return out, cache


def dense_backward(dout, cache):
    # dout (N, ..., units) -> dx (N, ..., in), dw (in, units), db (units,) or None
    x, w, has_bias = cache
    units = w.shape[1]
    x2 = x.reshape(-1, w.shape[0])      # every leading axis is a row: (M, in)
    d2 = dout.reshape(-1, units)        # (M, units)
    dx = dout @ w.T                     # step 1: back through the matmul to the input
    dw = x2.T @ d2                      # step 2: dL/dw sums x_row^T dout_row over all rows
    db = d2.sum(axis=0) if has_bias else None   # step 3: the bias was added to every row
    return dx, dw, db
