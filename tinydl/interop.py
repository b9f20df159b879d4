"""Weights between tinydl and PyTorch, for the layers both have.

    td.interop.from_torch(model, module)   # copy a torch module's weights into the same architecture
    net = td.interop.to_torch(model)       # an equivalent torch.nn.Sequential, weights copied

The layouts (tinydl <-> torch):
    Dense                kernel (in, units)          <-> Linear.weight (units, in): transposed
    Conv2D               kernel (filters, C, kh, kw) <-> Conv2d.weight, the same (both NCHW,
                                                         both cross-correlation)
    BatchNormalization   gamma, beta, moving mean/var <-> BatchNorm2d (4-D) / BatchNorm1d (2-D)
                         weight, bias, running_mean/var; torch's momentum = 1 - Keras's
    LayerNormalization   gamma, beta                 <-> LayerNorm weight, bias
    MultiHeadAttention   query/key/value kernels (E, H, D) <-> in_proj_weight rows (H*D, E)
                         per projection, output kernel (H, D, E) <-> out_proj.weight (E, H*D);
                         torch needs H * D == E and key_dim == value_dim
Layers without weights (activations, pooling, Flatten, Dropout) map by type in to_torch. In
from_torch the layers with weights are matched in order (torch's module order, which for an
nn.Sequential is the order they run in), type by type and shape by shape.
"""
import numpy as np

from tinydl import layers as L
from tinydl.layers.conv import explicit_padding

__all__ = ["from_torch", "to_torch"]

_WEIGHTED = (L.Dense, L.Conv2D, L.BatchNormalization, L.LayerNormalization, L.MultiHeadAttention)


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("tinydl.interop needs PyTorch: pip install torch") from None
    return torch


def _flat_layers(items):
    # the layers in running order, Residual paths opened up (block first, then shortcut)
    for layer in items:
        if isinstance(layer, L.Residual):
            yield from _flat_layers(layer.block)
            yield from _flat_layers(layer.shortcut)
        else:
            yield layer


def _np(t):
    return t.detach().cpu().double().numpy()


def _ensure_built(model, owner):
    # a model that knows its input shape is built here (float32, as Keras builds at construction)
    if all(layer.built for layer in _flat_layers(model.layers)):
        return
    if model.input_shape is None:
        raise ValueError(f"{owner}: the model has no weights yet; start it with layers.Input(shape) or call "
                         "model.build(input_shape)")
    model.build()


# ---- torch -> tinydl ------------------------------------------------------------------------------
def _torch_weighted(module):
    """The torch modules with weights, in module order (a MultiheadAttention's out_proj is its own)."""
    nn = _torch().nn
    kinds = (nn.Linear, nn.Conv2d, nn.BatchNorm2d, nn.BatchNorm1d, nn.LayerNorm, nn.MultiheadAttention)

    def walk(m, name):
        if isinstance(m, kinds):
            yield m
            return
        if any(True for _ in m.parameters(recurse=False)):
            raise TypeError(f"from_torch: the torch module {name or 'module'} ({type(m).__name__}) has "
                            "weights that tinydl has no layer for")
        for child_name, child in m.named_children():
            yield from walk(child, f"{name}.{child_name}" if name else child_name)
    return list(walk(module, ""))


def _arrays_from(layer, m, dtype):
    nn = _torch().nn
    pairs = {L.Dense: nn.Linear, L.Conv2D: nn.Conv2d, L.LayerNormalization: nn.LayerNorm,
             L.MultiHeadAttention: nn.MultiheadAttention,
             L.BatchNormalization: (nn.BatchNorm2d, nn.BatchNorm1d)}
    if not isinstance(m, pairs[type(layer)]):
        raise TypeError(f"from_torch: {layer.name} ({type(layer).__name__}) cannot take the weights of "
                        f"torch's {type(m).__name__}")
    if isinstance(layer, L.Dense):
        arrays = [_np(m.weight).T] + ([_np(m.bias)] if m.bias is not None else [])
    elif isinstance(layer, L.Conv2D):
        arrays = [_np(m.weight)] + ([_np(m.bias)] if m.bias is not None else [])
    elif isinstance(layer, L.BatchNormalization):
        arrays = [_np(m.weight), _np(m.bias), _np(m.running_mean), _np(m.running_var)]
    elif isinstance(layer, L.LayerNormalization):
        arrays = [_np(m.weight), _np(m.bias)]
    else:
        arrays = _mha_from_torch(layer, m)
    return [a.astype(dtype) for a in arrays]


def _mha_from_torch(layer, m):
    H, D, Dv, E = layer.num_heads, layer.key_dim, layer.value_dim, layer.query_dim
    if m.num_heads != H or m.head_dim != D or Dv != D:
        raise ValueError(f"from_torch: {layer.name} has {H} heads of key_dim {D}, value_dim {Dv}; torch's "
                         f"MultiheadAttention has {m.num_heads} heads of {m.head_dim}")
    if m._qkv_same_embed_dim:
        wq, wk, wv = _np(m.in_proj_weight).reshape(3, H * D, -1)
    else:
        wq, wk, wv = _np(m.q_proj_weight), _np(m.k_proj_weight), _np(m.v_proj_weight)
    if m.in_proj_bias is not None:
        bq, bk, bv = _np(m.in_proj_bias).reshape(3, H * D)
    else:
        bq = bk = bv = np.zeros(H * D)
    bo = _np(m.out_proj.bias) if m.out_proj.bias is not None else np.zeros(E)
    # layer.get_weights order: query kernel, bias, key kernel, bias, value kernel, bias, output
    return [wq.T.reshape(-1, H, D), bq.reshape(H, D), wk.T.reshape(-1, H, D), bk.reshape(H, D),
            wv.T.reshape(-1, H, Dv), bv.reshape(H, Dv), _np(m.out_proj.weight).T.reshape(H, Dv, E), bo]


def from_torch(model, module):
    """Copy ``module``'s weights into ``model`` (built, same architecture); returns ``model``."""
    _torch()
    _ensure_built(model, "from_torch")
    ours = [layer for layer in _flat_layers(model.layers) if isinstance(layer, _WEIGHTED)]
    theirs = _torch_weighted(module)
    if len(ours) != len(theirs):
        raise ValueError(f"from_torch: the model has {len(ours)} layers with weights "
                         f"({', '.join(type(x).__name__ for x in ours)}); the torch module has {len(theirs)} "
                         f"({', '.join(type(m).__name__ for m in theirs)})")
    for layer, m in zip(ours, theirs, strict=True):
        dtype = layer.get_weights()[0].dtype
        arrays = _arrays_from(layer, m, dtype)
        want = [w.shape for w in layer.get_weights()]
        got = [a.shape for a in arrays]
        if want != got:
            raise ValueError(f"from_torch: {layer.name} ({type(layer).__name__}) has weights of shapes {want}; "
                             f"torch's {type(m).__name__} gives {got}")
        layer.set_weights(arrays)
    return model


# ---- tinydl -> torch ------------------------------------------------------------------------------
def _modules():
    """torch.nn.Module classes for the layers torch has no single module for (built on first use,
    so importing tinydl.interop does not import torch)."""
    global _MODS
    if _MODS is None:
        nn = _torch().nn

        class SelfAttention(nn.Module):
            """tinydl's MultiHeadAttention in a Sequential: self-attention on (N, L, E)."""

            def __init__(self, mha, causal):
                super().__init__()
                self.mha, self.causal = mha, causal

            def forward(self, x):
                mask = None
                if self.causal:
                    n = x.shape[1]
                    mask = _torch().ones(n, n, dtype=_torch().bool, device=x.device).triu(1)
                return self.mha(x, x, x, attn_mask=mask, need_weights=False)[0]

        class Residual(nn.Module):
            """y = block(x) + shortcut(x), the shortcut the identity when empty."""

            def __init__(self, block, shortcut):
                super().__init__()
                self.block, self.shortcut = block, shortcut

            def forward(self, x):
                return self.block(x) + self.shortcut(x)
        _MODS = {"SelfAttention": SelfAttention, "Residual": Residual}
    return _MODS


_MODS = None


# activations torch has by the same name and defaults (the keras-layers set joins by name)
_SAME_NAME = {"ReLU": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "GELU": "GELU", "ELU": "ELU",
              "SELU": "SELU", "Softplus": "Softplus", "Swish": "SiLU", "SiLU": "SiLU"}


def _activation_module(act):
    nn = _torch().nn
    if act is None:
        return []
    name = type(act).__name__
    if isinstance(act, L.LeakyReLU):
        return [nn.LeakyReLU(act.negative_slope)]
    if isinstance(act, L.Softmax):
        return [nn.Softmax(dim=-1)]
    if name in _SAME_NAME:
        return [getattr(nn, _SAME_NAME[name])()]
    raise NotImplementedError(f"to_torch: no torch module for the activation {name}")


def _conv_modules(layer, shape):
    nn = _torch().nn
    top, bottom, left, right = explicit_padding(layer.padding, tuple(shape[1:3]), layer.kernel_size, layer.strides)
    conv = nn.Conv2d(layer.in_channels, layer.filters, layer.kernel_size, stride=layer.strides,
                     bias=layer.use_bias)
    pad = []
    if (top, left) == (bottom, right):
        conv.padding = (top, left)
    else:                                             # Keras's 'same' can pad one more after
        pad = [nn.ZeroPad2d((left, right, top, bottom))]
    return pad + [conv]


def _pool_module(layer):
    nn = _torch().nn
    if layer.padding != "valid":
        raise NotImplementedError(f"to_torch: {layer.name} uses padding='same', which torch's pooling "
                                  "cannot express exactly; only 'valid' is mapped")
    kind = nn.MaxPool2d if isinstance(layer, L.MaxPooling2D) else nn.AvgPool2d
    return kind(layer.pool_size, stride=layer.strides)


def _layer_modules(layer, shape):
    """The torch modules for one tinydl layer fed ``shape`` (without the batch axis)."""
    nn = _torch().nn
    if isinstance(layer, L.Dense):
        mods = [nn.Linear(shape[-1], layer.units, bias=layer.use_bias)]
        return mods + _activation_module(layer.activation)
    if isinstance(layer, L.Conv2D):
        return _conv_modules(layer, shape) + _activation_module(layer.activation)
    if isinstance(layer, L.BatchNormalization):
        kind = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        return [kind(shape[0] if len(shape) == 3 else shape[-1], eps=layer.epsilon, momentum=1 - layer.momentum)]
    if isinstance(layer, L.LayerNormalization):
        return [nn.LayerNorm(shape[-1], eps=layer.epsilon)]
    if isinstance(layer, L.MultiHeadAttention):
        return [_mha_module(layer)]
    if isinstance(layer, (L.MaxPooling2D, L.AveragePooling2D)):
        return [_pool_module(layer)]
    if isinstance(layer, L.GlobalAveragePooling2D):
        return [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if isinstance(layer, L.Flatten):
        return [nn.Flatten()]
    if isinstance(layer, L.Dropout):
        return [nn.Dropout(layer.rate)]
    if isinstance(layer, L.Residual):
        block, shortcut = _chain(layer.block, shape), _chain(layer.shortcut, shape)
        return [_modules()["Residual"](block, shortcut)]
    if isinstance(layer, (L.LeakyReLU, L.Softmax)) or type(layer).__name__ in _SAME_NAME:
        return _activation_module(layer)
    raise NotImplementedError(f"to_torch: no torch module for {layer.name} ({type(layer).__name__})")


def _mha_module(layer):
    nn = _torch().nn
    H, D, E = layer.num_heads, layer.key_dim, layer.query_dim
    if H * D != E or layer.value_dim != D:
        raise NotImplementedError(f"to_torch: torch's MultiheadAttention needs num_heads * key_dim == the "
                                  f"embedding size and value_dim == key_dim; {layer.name} has {H} x {D} "
                                  f"(value_dim {layer.value_dim}) for {E}")
    mha = nn.MultiheadAttention(E, H, dropout=layer.dropout, batch_first=True)
    return _modules()["SelfAttention"](mha, layer.use_causal_mask)


def _chain(items, shape):
    nn = _torch().nn
    mods = []
    for layer in items:
        mods += _layer_modules(layer, shape)
        shape = tuple(layer.compute_output_shape(tuple(shape)))
    return nn.Sequential(*mods)


def to_torch(model):
    """An equivalent ``torch.nn.Sequential`` with ``model``'s weights (in its float dtype), in
    eval mode. For a chain of layers (a Sequential)."""
    torch = _torch()
    _ensure_built(model, "to_torch")
    net = _chain(model.layers, tuple(model.input_shape))
    weights = [w for layer in model.layers for w in layer.get_weights()]
    dtype = torch.float64 if weights and weights[0].dtype == np.float64 else torch.float32
    net = net.to(dtype)
    _copy_into(model, net)
    return net.eval()


def _copy_into(model, net):
    # the reverse of from_torch's mapping, module by module
    torch = _torch()
    ours = [layer for layer in _flat_layers(model.layers) if isinstance(layer, _WEIGHTED)]
    theirs = _torch_weighted(net)
    with torch.no_grad():
        for layer, m in zip(ours, theirs, strict=True):
            for t, a in zip(_torch_params(m), _arrays_to(layer, m), strict=True):
                t.copy_(torch.from_numpy(np.ascontiguousarray(a)).to(t.dtype))


def _torch_params(m):
    nn = _torch().nn
    if isinstance(m, nn.MultiheadAttention):
        return [m.in_proj_weight, m.in_proj_bias, m.out_proj.weight, m.out_proj.bias]
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return [m.weight, m.bias, m.running_mean, m.running_var]
    return [p for p in (m.weight, m.bias) if p is not None]


def _arrays_to(layer, m):
    w = [np.asarray(a, dtype=np.float64) for a in layer.get_weights()]
    if isinstance(layer, L.Dense):
        return [w[0].T] + w[1:]
    if isinstance(layer, L.MultiHeadAttention):
        H, D, E = layer.num_heads, layer.key_dim, layer.query_dim
        qk, qb, kk, kb, vk, vb, ok, ob = w
        in_w = np.concatenate([k.reshape(-1, H * D).T for k in (qk, kk, vk)])
        in_b = np.concatenate([b.reshape(H * D) for b in (qb, kb, vb)])
        return [in_w, in_b, ok.reshape(H * D, E).T, ob]
    return w
