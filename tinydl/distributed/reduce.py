"""Gradient averaging across ranks: the ladder DistributedOptimizer climbs, plus a ring allreduce.

Every version leaves p.grad = (sum over ranks of p.grad) / world on every rank, bit-identical on
all of them (each rank divides the same sum by the same number). Times per step of the seed CNN
(4.2 M float32 weights, 16 MiB of gradients) are in docs/distributed.md.

v1  one Allreduce per parameter. 22 collectives per step for the seed CNN: each pays MPI's
    latency, and the small ones (biases, batch-norm gammas) are all latency.
v2  one fused buffer per step: copy every gradient into one flat array, one Allreduce, copy back.
    One latency instead of 22, at the price of two passes over the gradients (pack; divide and
    unpack in one).
v3  buckets started during backward (what PyTorch DDP does): the parameters are grouped, in the
    order backward reaches them (last layer first), into buckets of about ``bucket_mb``; when
    the last layer of a bucket has run its backward, the bucket is packed and a non-blocking
    Iallreduce starts, so its communication overlaps the backward of the layers below. step()
    only waits for what is still in flight. Needs ``attach(model)`` (BroadcastWeights does it in
    fit); each layer's backward is wrapped on the instance, the class is untouched. A layer whose
    backward runs twice before the optimizer's step (gradient accumulation, a GAN's generator
    step backpropagating through the discriminator) is an error: use v2 there.
v4  v2's fused buffer reduced by ``ring_allreduce`` below instead of MPI's Allreduce: the lesson
    raced against the real thing.

ring_allreduce (the algorithm of Baidu's 2017 allreduce and of NCCL's rings): the buffer is cut
into ``world`` chunks. Reduce-scatter: in world-1 steps each rank sends one chunk to its right
neighbour and adds the chunk received from its left one, after which rank r holds the complete
sum of chunk (r + 1) % world. Allgather: world-1 more steps pass the finished chunks around the
ring. Each rank sends 2 (world-1)/world of the buffer, whatever the world size: bandwidth-optimal.
"""
import numpy as np

from tinydl import device as _device


# -- packing gradients into flat buffers -------------------------------------------------------
def _grad_host(p):
    g = p.grad
    return _device.to_numpy(g) if _device.is_device_array(g) else np.asarray(g)


def _set_grad(p, value, on_device):
    p.grad = _device.to_device(np.ascontiguousarray(value), "cuda") if on_device else value


def _groups(params):
    """params grouped by gradient dtype (one flat buffer per dtype), in order."""
    out = {}
    for p in params:
        out.setdefault(np.dtype(p.grad.dtype), []).append(p)
    return out


def _pack(params, dtype, flat=None):
    """Every gradient of ``params`` (all of ``dtype``) copied into one flat buffer: ``flat`` when
    given (kept from the last step: MPI is slower on fresh, never-touched memory), else a new one."""
    sizes = [int(np.prod(p.grad.shape, dtype=np.int64)) for p in params]
    if flat is None or flat.dtype != dtype or flat.size != sum(sizes):
        flat = np.empty(sum(sizes), dtype)
    start = 0
    for p, n in zip(params, sizes, strict=True):
        flat[start:start + n] = _grad_host(p).reshape(-1)
        start += n
    return flat


def _owned(g):
    """A host gradient array that owns its memory and may be overwritten in place."""
    return isinstance(g, np.ndarray) and g.flags.c_contiguous and g.flags.writeable and g.base is None


def _unpack(flat, params, world):
    """p.grad = its slice of the summed ``flat`` / world: the division and the copy in one pass,
    into p.grad in place when it is a host array of its own (``flat`` is reused next step), else
    into a new array."""
    start = 0
    for p in params:
        g = p.grad
        n = int(np.prod(g.shape, dtype=np.int64))
        part = flat[start:start + n].reshape(g.shape)
        if _owned(g):
            np.divide(part, world, out=g)
        else:
            _set_grad(p, part / world, _device.is_device_array(g))
        start += n


# -- the ring ------------------------------------------------------------------------------------
def ring_allreduce(comm, flat):
    """Sum the 1-D contiguous ``flat`` over the ranks of ``comm``, in place, by a ring of Sendrecv
    calls (reduce-scatter, then allgather). Returns ``flat``."""
    size, rank = comm.size, comm.rank
    if size == 1:
        return flat
    chunks = np.array_split(flat, size)            # world views into flat
    right, left = (rank + 1) % size, (rank - 1) % size
    incoming = np.empty(len(chunks[0]), flat.dtype)
    # reduce-scatter: after step s, chunk (rank - s - 1) holds the sum of s + 2 ranks' values
    for s in range(size - 1):
        send, recv = chunks[(rank - s) % size], chunks[(rank - s - 1) % size]
        comm.Sendrecv(send, dest=right, recvbuf=incoming[:len(recv)], source=left)
        recv += incoming[:len(recv)]
    # allgather: pass the finished chunk (rank + 1 - s) % size around the ring
    for s in range(size - 1):
        send, recv = chunks[(rank + 1 - s) % size], chunks[(rank - s) % size]
        comm.Sendrecv(send, dest=right, recvbuf=recv, source=left)
    return flat


# -- the versions --------------------------------------------------------------------------------
class _Reducer:
    """Averages the gradients of the parameters given to reduce(); attach/detach are no-ops
    except for v3."""
    version = 0

    def __init__(self, comm, bucket_mb=None):
        self.comm = comm

    def attach(self, model):
        return self

    def detach(self):
        return self

    def reduce(self, params):
        raise NotImplementedError


class PerParameter(_Reducer):
    """v1: one blocking Allreduce per parameter."""
    version = 1

    def reduce(self, params):
        from mpi4py import MPI

        for p in params:
            on_device = _device.is_device_array(p.grad)
            # in place into a gradient that owns its memory; else into a copy (a view may be shared)
            buf = p.grad if _owned(p.grad) else np.array(_grad_host(p), order="C")
            self.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            buf /= self.comm.size
            if buf is not p.grad:
                _set_grad(p, buf, on_device)


class Fused(_Reducer):
    """v2: one flat buffer per dtype, one blocking Allreduce."""
    version = 2

    def _sum(self, flat):
        from mpi4py import MPI
        self.comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)

    def __init__(self, comm, bucket_mb=None):
        super().__init__(comm)
        self._buffers = {}                             # dtype -> the flat buffer of the last step

    def reduce(self, params):
        for dtype, group in _groups(params).items():
            flat = self._buffers[dtype] = _pack(group, dtype, self._buffers.get(dtype))
            self._sum(flat)
            _unpack(flat, group, self.comm.size)


class Ring(Fused):
    """v4: v2 with the fused buffer summed by ring_allreduce."""
    version = 4

    def _sum(self, flat):
        ring_allreduce(self.comm, flat)


class _Bucket:
    def __init__(self, params):
        self.params, self.request, self.flat = list(params), None, None


class Bucketed(_Reducer):
    """v3: buckets of about ``bucket_mb`` MiB, each Iallreduce'd as soon as backward has produced
    all of its gradients; step() waits for them (see the module docstring)."""
    version = 3

    def __init__(self, comm, bucket_mb=4.0):
        super().__init__(comm)
        self.bucket_bytes = float(bucket_mb if bucket_mb is not None else 4.0) * 2**20
        self.buckets, self._layers = [], []
        self._done, self._ready, self._next = set(), set(), 0
        self.started_in_backward = 0        # buckets of the current step sent before step()
        self._rest = Fused(comm)            # for gradients no bucket holds

    # -- hooks ------------------------------------------------------------------------------
    def attach(self, model):
        """Plan the buckets (reverse layer order) and wrap each weighted layer's backward."""
        self.detach()
        layers = [layer for layer in model.layers if layer.trainable_weights]
        bucket, nbytes = [], 0.0
        for layer in reversed(layers):
            for p in layer.trainable_weights:
                if bucket and (nbytes >= self.bucket_bytes or np.dtype(p.dtype) != np.dtype(bucket[-1].dtype)):
                    self.buckets.append(_Bucket(bucket))
                    bucket, nbytes = [], 0.0
                bucket.append(p)
                nbytes += p.size * np.dtype(p.dtype).itemsize
            self._wrap(layer)
        if bucket:
            self.buckets.append(_Bucket(bucket))
        return self

    def _wrap(self, layer):
        if "backward" in vars(layer):
            self.detach()
            raise RuntimeError(f"layer {layer.name!r} is already attached to a DistributedOptimizer "
                               "(version 3): detach() that one first")
        original = layer.backward                      # the bound method of the class

        def backward(dout, *args, **kwargs):
            dx = original(dout, *args, **kwargs)
            self._layer_done(layer)
            return dx

        layer.backward = backward                      # an instance attribute shadows the method
        self._layers.append(layer)

    def detach(self):
        for layer in self._layers:
            vars(layer).pop("backward", None)
        self.buckets, self._layers = [], []
        self._done, self._ready, self._next = set(), set(), 0
        return self

    def _layer_done(self, layer):
        if id(layer) in self._done:
            raise RuntimeError(
                f"DistributedOptimizer(version=3): layer {layer.name!r} ran backward twice before the "
                "optimizer's step (gradient accumulation, or a second model's loss backpropagated "
                "through this one): its bucket was already sent. Use version=2 for such loops."
            )
        self._done.add(id(layer))
        self._ready.update(id(p) for p in layer.trainable_weights)
        self._launch_ready()
        self.started_in_backward = self._next

    def _launch_ready(self):
        """Start, in bucket order (the same on every rank), each bucket whose gradients all exist."""
        from mpi4py import MPI

        while self._next < len(self.buckets):
            b = self.buckets[self._next]
            if not all(id(p) in self._ready and p.grad is not None for p in b.params):
                break
            b.flat = _pack(b.params, np.dtype(b.params[0].grad.dtype), b.flat)
            b.request = self.comm.Iallreduce(MPI.IN_PLACE, b.flat, op=MPI.SUM)
            self._next += 1
        pending = [b.request for b in self.buckets[:self._next] if b.request is not None]
        if pending:
            MPI.Request.Testall(pending)               # lets MPI progress the buckets in flight

    # -- the step ---------------------------------------------------------------------------
    def reduce(self, params):
        from mpi4py import MPI

        self._ready.update(id(p) for p in params)      # at step time every given gradient is final
        self._launch_ready()
        started = self.buckets[:self._next]
        MPI.Request.Waitall([b.request for b in started])
        covered = set()
        for b in started:
            _unpack(b.flat, b.params, self.comm.size)
            b.request = None
            covered.update(id(p) for p in b.params)
        rest = [p for p in params if id(p) not in covered]
        if rest:
            self._rest.reduce(rest)
        self._done, self._ready, self._next = set(), set(), 0


VERSIONS = {1: PerParameter, 2: Fused, 3: Bucketed, 4: Ring}
DEFAULT = 2


def reducer(comm, version=None, bucket_mb=None):
    """The reducer of ``version`` (DEFAULT when None) over ``comm``."""
    version = DEFAULT if version is None else version
    if version not in VERSIONS:
        raise ValueError(f"gradient reduction version must be one of {sorted(VERSIONS)}; received {version!r}")
    return VERSIONS[version](comm, bucket_mb)
