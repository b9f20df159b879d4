"""MultiHeadAttention (Keras semantics), through tinydl.ops only.

    q = query @ Wq + bq      Wq (E_q, H, D)    -> split into H heads of size D (key_dim)
    k = key   @ Wk + bk      Wk (E_k, H, D)
    v = value @ Wv + bv      Wv (E_v, H, Dv)   Dv = value_dim (default key_dim)
    o = softmax(q k^T / sqrt(D) + mask) v, per head (ops.attention_forward), heads merged
    y = o @ Wo + bo          Wo (H, Dv, E_q)   back to the query's embedding size

Weights in Keras's order and layouts: query/kernel, query/bias, key/kernel, key/bias,
value/kernel, value/bias, output/kernel, output/bias. In self-attention (one input, host arrays)
the three projections run as one packed GEMM x @ [Wq | Wk | Wv], and its backward gives dx
directly as the sum over the three uses of x.
"""
import numpy as np

from tinydl import device as _device
from tinydl import initializers, ops
from tinydl import random as _random
from tinydl._validate import finite_float, positive_int
from tinydl.layers.base import Layer, float_dtype


def _glorot_2d(fan_in_axes):
    """Glorot uniform for a kernel whose first ``fan_in_axes`` axes are its inputs: the limits
    of the Dense kernel it reshapes to (in, out)."""
    def init(shape, dtype, rng):
        fan_in = int(np.prod(shape[:fan_in_axes]))
        fan_out = int(np.prod(shape[fan_in_axes:]))
        return initializers.glorot_uniform((fan_in, fan_out), dtype, rng).reshape(shape)
    return init


class MultiHeadAttention(Layer):
    """Multi-head attention. In a Sequential (or Residual) it is self-attention on (N, L, E);
    called directly: ``mha(query, value=None, key=None, attention_mask=None, training=False)``
    with key defaulting to value and value to query. ``attention_mask`` is boolean, True where
    a query may attend a key: (L, S) or (N, L, S). ``backward(dout)`` returns dquery (in
    self-attention the sum over the three uses of the input); after a cross-attention call
    ``self.dvalue`` / ``self.dkey`` hold the other input gradients and ``backward_all(dout)``
    returns (dquery, dvalue, dkey) (None for an input that was not given)."""

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_causal_mask=False,
                 input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        owner = "MultiHeadAttention"
        self.num_heads = positive_int(num_heads, "num_heads", owner)
        self.key_dim = positive_int(key_dim, "key_dim", owner)
        self.value_dim = self.key_dim if value_dim is None else positive_int(value_dim, "value_dim", owner)
        self.dropout = finite_float(dropout, "dropout", 0.0, 1.0, high_open=True, owner=owner)
        self.use_causal_mask = bool(use_causal_mask)
        self.dquery = self.dvalue = self.dkey = None

    def __call__(self, query, value=None, key=None, attention_mask=None, training=False):
        self._self_attention = value is None and key is None
        self._key_is_value = key is None
        value = query if value is None else value
        key = value if key is None else key
        for nm, a in (("query", query), ("value", value), ("key", key)):
            if len(a.shape) != 3:
                raise ValueError(f"{self.name}: {nm} must be 3-D (batch, length, features); received shape {tuple(a.shape)}")
        if not self.built:
            self.dtype = float_dtype(query)
            self.build(tuple(query.shape[1:]), tuple(value.shape[1:]), tuple(key.shape[1:]))
            self.built = True
        return self.call(query, value, key, attention_mask, training)

    def build(self, input_shape, value_shape=None, key_shape=None):
        # input_shape is the query's (L, E_q); value / key default to it (self-attention)
        value_shape = value_shape or input_shape
        key_shape = key_shape or value_shape
        H, D, Dv = self.num_heads, self.key_dim, self.value_dim
        self.query_dim, self.value_in, self.key_in = input_shape[-1], value_shape[-1], key_shape[-1]
        self.query_kernel = self.add_weight("query/kernel", (self.query_dim, H, D), _glorot_2d(1))
        self.query_bias = self.add_weight("query/bias", (H, D), "zeros")
        self.key_kernel = self.add_weight("key/kernel", (self.key_in, H, D), _glorot_2d(1))
        self.key_bias = self.add_weight("key/bias", (H, D), "zeros")
        self.value_kernel = self.add_weight("value/kernel", (self.value_in, H, Dv), _glorot_2d(1))
        self.value_bias = self.add_weight("value/bias", (H, Dv), "zeros")
        self.output_kernel = self.add_weight("output/kernel", (H, Dv, self.query_dim), _glorot_2d(2))
        self.output_bias = self.add_weight("output/bias", (self.query_dim,), "zeros")

    @staticmethod
    def _flat(p):
        # a (in, H, D) kernel seen as the (in, H*D) matrix of a Dense layer (a view)
        return p.value.reshape(p.shape[0], -1) if len(p.shape) == 3 else p.value.reshape(-1)

    def _mask(self, attention_mask, N, L, S):
        if self.use_causal_mask:
            attention_mask = ops.causal_mask(L, S, attention_mask)
        if attention_mask is None:
            return None
        m = _device.to_numpy(attention_mask)
        if m.ndim == 3:
            if m.shape[0] != N:
                raise ValueError(f"{self.name}: attention_mask must have shape (L, S) or "
                                 f"(batch={N}, L, S); received {m.shape}")
            m = m.reshape(m.shape[0], 1, m.shape[1], m.shape[2])   # broadcast over the heads
        return m

    def call(self, query, value, key, attention_mask=None, training=False):
        H = self.num_heads
        N, L, S = query.shape[0], query.shape[1], key.shape[1]
        if value.shape[1] != S:
            raise ValueError(f"{self.name}: key and value must have the same length; "
                             f"received key {tuple(key.shape)}, value {tuple(value.shape)}")
        # step 1: projections, split into heads (N, H, len, D)
        self._packed = self._self_attention and not _device.is_device_array(query)
        if self._packed:
            q, k, v = self._packed_projection(query)
        else:
            q, self._cq = ops.dense_forward(query, self._flat(self.query_kernel), self._flat(self.query_bias))
            k, self._ck = ops.dense_forward(key, self._flat(self.key_kernel), self._flat(self.key_bias))
            v, self._cv = ops.dense_forward(value, self._flat(self.value_kernel), self._flat(self.value_bias))
        qh, self._sq = ops.split_heads_forward(q, H)
        kh, self._sk = ops.split_heads_forward(k, H)
        vh, self._sv = ops.split_heads_forward(v, H)
        # step 2: attention per head (scale 1/sqrt(key_dim); dropout on the weights in training)
        if self.use_causal_mask and attention_mask is None:
            mask, causal = None, True          # the kernels' own triangle, no mask array
        else:
            mask, causal = self._mask(attention_mask, N, L, S), False
        p = self.dropout if training else 0.0
        seed = _random.new_seed() if p > 0.0 else None
        o, self._ca = ops.attention_forward(qh, kh, vh, attn_mask=mask, dropout_p=p,
                                            is_causal=causal, seed=seed)
        # step 3: merge the heads, project back to the query's size
        om, self._cm = ops.merge_heads_forward(o)
        out, self._co = ops.dense_forward(om, self.output_kernel.value.reshape(-1, self.query_dim),
                                          self.output_bias.value)
        return out

    def backward(self, dout):
        H, D, Dv, E = self.num_heads, self.key_dim, self.value_dim, self.query_dim
        # step 3 back: output projection, heads split again
        dom, dwo, dbo = ops.dense_backward(dout, self._co)
        self.output_kernel.accumulate_grad(dwo.reshape(H, Dv, E))
        self.output_bias.accumulate_grad(dbo)
        do = ops.merge_heads_backward(dom, self._cm)
        # step 2 back: attention
        dqh, dkh, dvh = ops.attention_backward(do, self._ca)
        # step 1 back: heads merged, projections
        if self._packed:
            dquery = self._packed_projection_backward(dqh, dkh, dvh)
            self.dquery, self.dvalue, self.dkey = dquery, None, None
            return dquery
        grads = []
        for dh, split, cache, kern, bias, width in (
                (dqh, self._sq, self._cq, self.query_kernel, self.query_bias, D),
                (dkh, self._sk, self._ck, self.key_kernel, self.key_bias, D),
                (dvh, self._sv, self._cv, self.value_kernel, self.value_bias, Dv)):
            dx, dw, db = ops.dense_backward(ops.split_heads_backward(dh, split), cache)
            kern.accumulate_grad(dw.reshape(kern.shape))
            bias.accumulate_grad(db.reshape(H, width))
            grads.append(dx)
        dquery, dkey, dvalue = grads
        # an input used in several roles gets the sum of its gradients
        if self._self_attention:
            dquery = ops.add(ops.add(dquery, dkey), dvalue)
            dkey = dvalue = None
        elif self._key_is_value:
            dvalue = ops.add(dvalue, dkey)
            dkey = None
        self.dquery, self.dvalue, self.dkey = dquery, dvalue, dkey
        return dquery

    def _packed_projection(self, x):
        """Self-attention: q, k, v from ONE GEMM, x (N, L, E) @ [Wq | Wk | Wv] (E, 2HD + HDv) (the
        three kernels side by side, a small copy per call), instead of three GEMMs over x."""
        kernels = [self._flat(p) for p in (self.query_kernel, self.key_kernel, self.value_kernel)]
        biases = [self._flat(p) for p in (self.query_bias, self.key_bias, self.value_bias)]
        qkv, self._cqkv = ops.dense_forward(x, np.concatenate(kernels, axis=1), np.concatenate(biases))
        hd = self.num_heads * self.key_dim
        return qkv[..., :hd], qkv[..., hd:2 * hd], qkv[..., 2 * hd:]

    def _packed_projection_backward(self, dqh, dkh, dvh):
        # the three head gradients side by side -> one dense backward; its dx is already the sum
        # of the three uses of x, and dW splits back into the three kernels
        parts = [ops.split_heads_backward(d, c) for d, c in ((dqh, self._sq), (dkh, self._sk), (dvh, self._sv))]
        dx, dw, db = ops.dense_backward(np.concatenate(parts, axis=-1), self._cqkv)
        start = 0
        for kern, bias in ((self.query_kernel, self.query_bias), (self.key_kernel, self.key_bias),
                           (self.value_kernel, self.value_bias)):
            width = kern.shape[1] * kern.shape[2]
            kern.accumulate_grad(np.ascontiguousarray(dw[:, start:start + width]).reshape(kern.shape))
            bias.accumulate_grad(np.ascontiguousarray(db[start:start + width]).reshape(bias.shape))
            start += width
        return dx

    def backward_all(self, dout):
        """(dquery, dvalue, dkey) of the last call; None for an input that was not passed."""
        self.backward(dout)
        return self.dquery, self.dvalue, self.dkey

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout,
                "use_causal_mask": self.use_causal_mask}
