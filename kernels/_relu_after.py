"""An op followed by a ReLU, as one op (conv2d_relu: a Conv2D with activation="relu"; CUDA's batchnorm_relu).

    out = relu(z), z = op(x, ...)       the forward returns out and (the op's cache, relu_cache)
    dz = relu'(z) * dout                the backward masks dout, then runs the op's backward

``composed`` builds the pair from any device's op and ReLU kernels, for the versions that have
no fused forward; a fused forward (the ReLU applied while the op's output is still in cache)
returns the same cache layout with relu_cache = out, which masks dout the same way: out > 0
exactly where z > 0 (NaN is neither).
"""
import functools


def composed(name, forward, backward, relu_forward, relu_backward, fused_forward=None):
    """{"<name>_relu_forward", "<name>_relu_backward"} for one kernel version (with the
    signatures of ``forward`` and ``backward``)."""
    @functools.wraps(forward)
    def relu_op_forward(*args):
        if fused_forward is not None:
            out, cache = fused_forward(*args)
            return out, (cache, out)
        z, cache = forward(*args)
        out, relu_cache = relu_forward(z)
        return out, (cache, relu_cache)

    relu_op_backward = masked(backward, relu_backward)
    relu_op_forward.__name__ = relu_op_forward.__qualname__ = f"{name}_relu_forward"
    relu_op_backward.__name__ = relu_op_backward.__qualname__ = f"{name}_relu_backward"
    return {f"{name}_relu_forward": relu_op_forward, f"{name}_relu_backward": relu_op_backward}


def masked(backward, relu_backward):
    """The backward of the op-then-ReLU pair from the op's ``backward`` (or its weights-only
    backward): dout through the ReLU first."""
    @functools.wraps(backward)
    def relu_op_backward(dout, cache):
        op_cache, relu_cache = cache
        return backward(relu_backward(dout, relu_cache), op_cache)
    return relu_op_backward
