"""Vision Transformer pieces: PatchEmbedding, ClassToken, PositionalEmbedding, SequencePooling.
All arithmetic goes through tinydl.ops (family "sequence" and dense)."""
from tinydl import ops
from tinydl import tape as _tape
from tinydl._validate import positive_int
from tinydl.layers import _shapes
from tinydl.layers.base import Layer


class PatchEmbedding(Layer):
    """(N, C, H, W) -> (N, (H/p)(W/p), embed_dim): each p x p patch flattened as (C, ph, pw)
    (a strided Conv2D's order) and mapped by one Dense kernel (C*p*p, embed_dim) with bias."""

    def __init__(self, patch_size, embed_dim, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.patch_size = positive_int(patch_size, "patch_size", "PatchEmbedding")
        self.embed_dim = positive_int(embed_dim, "embed_dim", "PatchEmbedding")

    def build(self, input_shape):
        # kernel (C*p*p, embed_dim), bias (embed_dim,)
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected images (C, H, W) per sample; received shape "
                             f"{tuple(input_shape)}. {_shapes.nchw_hint(input_shape)}")
        C, H, W = input_shape
        p = self.patch_size
        if H % p or W % p:
            raise ValueError(f"{self.name}: image height and width must be multiples of "
                             f"patch_size={p}; received an image of {H}x{W}. "
                             f"{_shapes.nchw_hint(input_shape)}")
        _shapes.warn_if_channels_last(input_shape)
        self.kernel = self.add_weight("kernel", (C * p * p, self.embed_dim), "glorot_uniform")
        self.bias = self.add_weight("bias", (self.embed_dim,), "zeros")

    def call(self, x, training=False):
        patches, self._cp = ops.patchify_forward(x, self.patch_size)
        out, self._cd = ops.dense_forward(patches, self.kernel.value, self.bias.value)
        return out

    def backward(self, dout):
        need_dx = _tape.input_grad_needed(self)
        dpatches, dw, db = ops.dense_backward(dout, self._cd, need_dx=need_dx)
        self.kernel.accumulate_grad(dw)
        self.bias.accumulate_grad(db)
        return ops.patchify_backward(dpatches, self._cp) if need_dx else None

    def compute_output_shape(self, input_shape):
        C, H, W = input_shape
        p = self.patch_size
        return ((H // p) * (W // p), self.embed_dim)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "embed_dim": self.embed_dim}


class ClassToken(Layer):
    """Prepends a learned token (1, 1, E) (zeros at first, as in ViT): (N, L, E) -> (N, L+1, E)."""

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{self.name}: expected sequences (L, E) per sample; received shape {tuple(input_shape)}")
        self.token = self.add_weight("cls", (1, 1, input_shape[-1]), "zeros")

    def call(self, x, training=False):
        out, self._cache = ops.concat_token_forward(x, self.token.value.reshape(-1))
        return out

    def backward(self, dout):
        dx, dtoken = ops.concat_token_backward(dout, self._cache)
        self.token.accumulate_grad(dtoken.reshape(self.token.shape))
        return dx

    def compute_output_shape(self, input_shape):
        L, E = input_shape
        return (L + 1, E)


class PositionalEmbedding(Layer):
    """Adds a learned position vector to every token: (N, L, E) + table[:L], table (max_length, E)."""

    def __init__(self, max_length, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.max_length = positive_int(max_length, "max_length", "PositionalEmbedding")

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{self.name}: expected sequences (L, E) per sample; received shape {tuple(input_shape)}")
        if input_shape[0] > self.max_length:
            raise ValueError(f"{self.name}: sequence length must be <= max_length={self.max_length}; "
                             f"received length {input_shape[0]}")
        self.embeddings = self.add_weight("embeddings", (self.max_length, input_shape[-1]), "glorot_uniform")

    def call(self, x, training=False):
        out, self._cache = ops.pos_embed_forward(x, self.embeddings.value)
        return out

    def backward(self, dout):
        dx, dpos = ops.pos_embed_backward(dout, self._cache)
        self.embeddings.accumulate_grad(dpos)
        return dx

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}


class SequencePooling(Layer):
    """(N, L, E) -> (N, E): the first (class) token with mode="cls", the mean over L with "mean"."""

    def __init__(self, mode="cls", input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        if mode not in ("cls", "mean"):
            raise ValueError(f"SequencePooling: mode must be 'cls' or 'mean'. Received: mode={mode!r}")
        self.mode = mode

    def call(self, x, training=False):
        out, self._cache = ops.sequence_pool_forward(x, self.mode)
        return out

    def backward(self, dout):
        return ops.sequence_pool_backward(dout, self._cache)

    def compute_output_shape(self, input_shape):
        return (input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
