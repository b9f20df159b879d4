"""The merge op pairs, written once for every device from its five primitives.

Each of kernels/{reference,cpu,cuda}/merge.py has its own primitives (NumPy, Numba, numba.cuda):

    add(a, b)                 a + b, a new array
    multiply(a, b)            a * b, a new array
    scale(a, s)               a * s, a new array
    concat(xs, outer)         xs[i] (outer * inner_i,) -> (outer, sum inner_i)
    split(x, outer, inners)   the reverse: [(outer, inner_i)]

and builds the same op pairs from them with ``op_pairs(...)``:

    add_forward(xs)          -> sum, n                 add_backward(dout, n)       -> [dout] * n (copies)
    average_forward(xs)      -> sum / n, n             average_backward(dout, n)   -> [dout / n] * n
    multiply_forward(xs)     -> product, xs            multiply_backward(dout, xs) -> [dout * prod_{j != i} x_j]
    concatenate_forward(xs, outer) -> (outer, sum inner_i), (outer, inners)
    concatenate_backward(dout, (outer, inners))        -> split(dout, outer, inners)

so every device multiplies, sums and averages in the same order, and a result differs between
devices only where a primitive rounds differently.
"""


def _fold(op, xs):
    # op(...op(op(x_0, x_1), x_2)..., x_n-1): left to right, as every device does it
    out = op(xs[0], xs[1])
    for x in xs[2:]:
        out = op(out, x)
    return out


def op_pairs(add, multiply, scale, concat, split):
    """The eight merge op functions, by name, built from one device's primitives."""

    def add_forward(xs):
        # xs: n arrays of one shape -> x_0 + x_1 + ..., n
        return _fold(add, xs), len(xs)

    def add_backward(dout, cache):
        return [scale(dout, 1.0) for _ in range(cache)]

    def average_forward(xs):
        out, n = add_forward(xs)
        return scale(out, 1.0 / n), n

    def average_backward(dout, cache):
        return [scale(dout, 1.0 / cache) for _ in range(cache)]

    def multiply_forward(xs):
        # xs -> x_0 * x_1 * ..., the inputs (for the backward)
        return _fold(multiply, xs), list(xs)

    def multiply_backward(dout, cache):
        # dx_i = dout * (the product of every other input), multiplied left to right
        grads = []
        for i in range(len(cache)):
            g = dout
            for j, x in enumerate(cache):
                if j != i:
                    g = multiply(g, x)
            grads.append(g)
        return grads

    def concatenate_forward(xs, outer):
        # xs[i] (..., inner_i after the axis) -> out (outer, sum inner_i), (outer, inners)
        return concat(xs, outer), (outer, [int(x.size) // outer for x in xs])

    def concatenate_backward(dout, cache):
        outer, inners = cache
        return split(dout, outer, inners)

    return {f.__name__: f for f in (add_forward, add_backward, average_forward, average_backward,
                                    multiply_forward, multiply_backward,
                                    concatenate_forward, concatenate_backward)}
