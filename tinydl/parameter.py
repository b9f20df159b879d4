"""Parameter: a trainable (or non-trainable) array with the gradient accumulated into it."""


class Parameter:
    """A weight of a layer.

    value  the array (NumPy on 'reference'/'cpu', a numba.cuda device array on 'cuda')
    grad   None until a backward pass; then dLoss/dvalue, summed over backward calls
           until ``zero_grad``
    """

    def __init__(self, value, name=None, trainable=True):
        self.value = value
        self.grad = None
        self.name = name
        self.trainable = trainable

    @property
    def shape(self):
        return tuple(self.value.shape)

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def size(self) -> int:
        n = 1
        for d in self.value.shape:
            n *= int(d)
        return n

    def accumulate_grad(self, g):
        """grad += g. ``g`` must be a fresh array the caller no longer writes to."""
        if self.grad is None:
            self.grad = g
        else:
            from tinydl import ops
            ops.accumulate(self.grad, g)

    def zero_grad(self):
        self.grad = None

    def __repr__(self):
        return f"Parameter(name={self.name!r}, shape={self.shape}, dtype={self.dtype})"
