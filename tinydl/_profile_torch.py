"""The PyTorch side of ``model.profile``: each tinydl layer's one-to-one twin in torch.nn, timed
on the same input shape (tinydl/profile.py). Layers without a twin get no torch column."""
import statistics

import numpy as np

from tinydl import device as _device


def _activation(nn, layer):
    act = getattr(layer, "activation", None)
    if act is None:
        return []
    twin = {"ReLU": nn.ReLU, "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh, "GELU": nn.GELU}.get(type(act).__name__)
    return [twin()] if twin else None


def twin(layer, in_shape):
    """A torch module computing what ``layer`` computes on input (N, *in_shape), or None."""
    import torch.nn as nn

    name = type(layer).__name__
    if name == "Conv2D":
        f, c, kh, kw = layer.kernel.shape
        pad = layer.padding if layer.padding in ("valid", "same") and layer.strides == (1, 1) else None
        if pad is None:
            return None
        mods = [nn.Conv2d(c, f, (kh, kw), stride=layer.strides, padding=pad, bias=layer.use_bias)]
    elif name == "Dense":
        mods = [nn.Linear(layer.kernel.shape[0], layer.units, bias=layer.use_bias)]
    elif name == "BatchNormalization":
        norm = nn.BatchNorm2d if len(in_shape) == 3 else nn.BatchNorm1d
        mods = [norm(in_shape[0], eps=layer.epsilon, momentum=1 - layer.momentum)]
    elif name == "LayerNormalization":
        mods = [nn.LayerNorm(in_shape[-1], eps=layer.epsilon)]
    elif name in ("MaxPooling2D", "AveragePooling2D") and layer.padding == "valid":
        pool = nn.MaxPool2d if name == "MaxPooling2D" else nn.AvgPool2d
        mods = [pool(layer.pool_size, layer.strides)]
    elif name in ("ReLU", "GELU", "Sigmoid", "Tanh", "Flatten"):
        mods = [getattr(nn, name)()]
    elif name == "Dropout":
        mods = [nn.Dropout(layer.rate)]
    else:
        return None
    act = _activation(nn, layer)
    return None if act is None else nn.Sequential(*mods, *act).train()


def _time(torch, module, x, repeat, clock):
    xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_()
    out = module(xt)
    dout = torch.ones_like(out)
    out.backward(dout)                                    # warm-up
    fwd, bwd = [], []
    for _ in range(repeat):
        t = clock()
        out = module(xt)
        fwd.append(clock() - t)
        t = clock()
        out.backward(dout)
        bwd.append(clock() - t)
    return 1e3 * statistics.median(fwd), 1e3 * statistics.median(bwd)


def add_torch_columns(model, xs, rows, repeat, clock):
    """Add torch_fwd_ms / torch_bwd_ms to each row whose layer has a twin (rows start with
    model.layers' rows)."""
    try:
        import numba
        import torch
    except ImportError:
        return
    torch.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    layer_rows = rows[:len(model.layers)]          # the loss and optimizer rows come after
    for layer, x, row in zip(model.layers, xs, layer_rows, strict=True):
        x = _device.to_numpy(x)
        module = twin(layer, tuple(x.shape[1:]))
        if module is None or x.dtype != np.float32:
            continue
        row["torch_fwd_ms"], row["torch_bwd_ms"] = _time(torch, module, x, repeat, clock)
