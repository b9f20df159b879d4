"""Where a training step's time goes, layer by layer: ``model.profile(x, y)``.

    rows = model.profile(x, y)                 # prints the table, returns one dict per row
    python -m tinydl profile --model seed-cnn --batch-size 128

For every layer of a Sequential, in order: the median forward ms (training=True) and backward
ms over ``repeat`` runs on the input that layer really receives in the model, the GFLOP/s of
each where the layer multiplies (convolution, dense, attention: 2 flops per multiply-add, the
backward counted as dx + dw, twice the forward), and the kernel version that ran (for example
``conv2d v7``: the family's active version on the model's device). Then the loss and the
optimizer update (Adam when the model is not compiled), so the rows add up to a step.

With PyTorch installed, the same layer in PyTorch runs beside it (nn.Conv2d, nn.Linear,
nn.BatchNorm2d, nn.MaxPool2d, nn.LayerNorm, the activations, ...; "-" where there is no one-to-one
twin), on the same input shape and thread count. Both run in this process, tinydl first: a few
percent can move between them through the two OpenMP pools (docs/kernels.md, "threads"); the
whole-step comparison is benchmarks/bench_models.py, one process per framework.

The model's weights, moving statistics and gradients are restored afterwards.
"""
import statistics
import time

import numpy as np

from tinydl import device as _device
from tinydl.kernels import _versions

# layer class name -> the op families it runs, in order
FAMILIES = {
    "Conv2D": ("conv2d",), "Dense": ("dense",), "BatchNormalization": ("batchnorm",),
    "MaxPooling2D": ("pool2d",), "AveragePooling2D": ("pool2d",), "GlobalAveragePooling2D": ("pool2d",),
    "LayerNormalization": ("layernorm",), "MultiHeadAttention": ("dense", "attention"),
    "PatchEmbedding": ("sequence", "dense"), "Residual": (),
}


def _median_ms(fn, repeat, clock):
    times = []
    for _ in range(repeat):
        t = clock()
        fn()
        times.append(clock() - t)
    return 1e3 * statistics.median(times)


def _version(family, dev):
    module = _device.backend(family, dev)
    if not hasattr(module, "VERSIONS"):
        return family
    return f"{family} v{_versions.active(f'{dev}.{family}', module.DEFAULT)}"


def kernel_versions(layer, dev) -> str:
    """The kernels a layer runs, e.g. 'conv2d v5 + relu'."""
    name = type(layer).__name__
    if name == "Residual":
        parts = [kernel_versions(sub, dev) for sub in layer.block + layer.shortcut]
        return "; ".join(p for p in parts if p)
    parts = [_version(f, dev) for f in FAMILIES.get(name, ())]
    act = getattr(layer, "activation", None)
    if act is not None:
        parts.append(type(act).__name__.lower())
    if not parts and name not in ("Flatten", "Dropout"):
        parts.append(name.lower())
    return " + ".join(parts)


def flops(layer, in_shape, out_shape) -> float:
    """Forward flops of one call (2 per multiply-add); 0 where the layer does not multiply."""
    name = type(layer).__name__
    if name == "Conv2D":
        f, c, kh, kw = layer.kernel.shape
        return 2.0 * np.prod(out_shape) * c * kh * kw
    if name in ("Dense", "PatchEmbedding"):
        k = layer.kernel.shape
        return 2.0 * np.prod(out_shape) * k[0]
    if name == "MultiHeadAttention":
        n, L, E = in_shape
        hd, hv = layer.num_heads * layer.key_dim, layer.num_heads * layer.value_dim
        proj = 2.0 * n * L * E * (2 * hd + hv) + 2.0 * n * L * hv * E
        return proj + 2.0 * n * L * L * (hd + hv)
    if name == "Residual":
        total, shape = 0.0, tuple(in_shape)
        for sub in layer.block:
            nxt = (shape[0],) + tuple(sub.compute_output_shape(shape[1:]))
            total += flops(sub, shape, nxt)
            shape = nxt
        return total
    return 0.0


def _inputs(model, x):
    """The input every layer receives in a training forward (a list, one per layer)."""
    xs, h = [], model._prepare_inputs(x)[0]
    with _device.using(model._dev()):
        for layer in model.layers:
            xs.append(h)
            h = layer(h, training=True)
    return xs, h


def _time_layer(layer, x, repeat, clock):
    out = layer(x, training=True)                          # warm-up (and compile)
    dout = np.ones_like(_device.to_numpy(out))
    dout = _device.to_device(dout) if _device.is_device_array(out) else dout
    layer.backward(dout)
    fwd = _median_ms(lambda: layer(x, training=True), repeat, clock)
    bwd = []
    for _ in range(repeat):
        layer(x, training=True)
        t = clock()
        layer.backward(dout)
        bwd.append(clock() - t)
    return fwd, 1e3 * statistics.median(bwd), tuple(out.shape)


def _loss_and_update(model, out, y, repeat, clock):
    from tinydl import losses, optimizers

    plan = model._plan[0] if model._plan else None
    loss_fn = plan.train_loss if plan else losses.SparseCategoricalCrossentropy(from_logits=True)
    opt = model.optimizer or optimizers.Adam()

    def loss_step():
        loss_fn(y, out)
        return loss_fn.backward()
    loss_step()
    params = model.trainable_weights
    for p in params:
        if p.grad is None:
            p.grad = np.zeros_like(p.value)
    saved_state = {k: {s: np.copy(a) for s, a in v.items()} for k, v in opt._state.items()}
    saved_iter = opt.iterations
    rows = [("loss", type(loss_fn).__name__, _median_ms(loss_step, repeat, clock), 0.0),
            ("optimizer", type(opt).__name__, 0.0, _median_ms(lambda: opt.step(params), repeat, clock))]
    opt._state, opt.iterations = saved_state, saved_iter
    return rows


def profile(model, x, y=None, repeat=5, clock="wall", torch=True, print_fn=print):
    """Time each layer's forward and backward (and the loss and optimizer update when ``y`` is
    given); print the table with ``print_fn`` (None: do not print) and return the rows."""
    clock_fn = time.process_time if clock == "cpu" else time.perf_counter
    saved = model.get_weights() if model.built else None
    dev = model._dev()
    xs, out = _inputs(model, x)
    saved = saved if saved is not None else model.get_weights()
    rows = []
    with _device.using(dev):
        for layer, xi in zip(model.layers, xs, strict=True):
            fwd, bwd, out_shape = _time_layer(layer, xi, repeat, clock_fn)
            f = flops(layer, tuple(xi.shape), out_shape)
            rows.append({"layer": layer.name, "type": type(layer).__name__, "output": out_shape,
                         "kernel": kernel_versions(layer, dev), "fwd_ms": fwd, "bwd_ms": bwd,
                         "fwd_gflops": f / fwd / 1e6 if f and fwd else None,
                         "bwd_gflops": 2 * f / bwd / 1e6 if f and bwd else None})
        if y is not None:
            for name, kind, fwd, bwd in _loss_and_update(model, out, y, repeat, clock_fn):
                rows.append({"layer": name, "type": kind, "output": (), "kernel": "", "fwd_ms": fwd,
                             "bwd_ms": bwd, "fwd_gflops": None, "bwd_gflops": None})
    model.set_weights(saved)
    model.zero_grad()
    if torch:
        from tinydl import _profile_torch
        _profile_torch.add_torch_columns(model, xs, rows, repeat, clock_fn)
    if print_fn is not None:
        print_fn(format_table(rows, clock))
    return rows


def _cell(v, fmt):
    return "-" if v is None else format(v, fmt)


def format_table(rows, clock="wall") -> str:
    has_torch = any("torch_fwd_ms" in r for r in rows)
    head = (f"{'layer':<24}{'output':<16}{'kernel':<26}{'fwd ms':>8}{'bwd ms':>8}"
            f"{'fwd GF/s':>9}{'bwd GF/s':>9}")
    if has_torch:
        head += f"{'torch fwd':>10}{'torch bwd':>10}"
    lines = [f"per-layer times ({clock} clock, median), one training step", head, "-" * len(head)]
    total = [0.0, 0.0, 0.0, 0.0]
    for r in rows:
        line = (f"{r['layer'][:23]:<24}{str(r['output'])[:15]:<16}{r['kernel'][:25]:<26}"
                f"{r['fwd_ms']:>8.2f}{r['bwd_ms']:>8.2f}{_cell(r['fwd_gflops'], '.1f'):>9}"
                f"{_cell(r['bwd_gflops'], '.1f'):>9}")
        total[0] += r["fwd_ms"]
        total[1] += r["bwd_ms"]
        if has_torch:
            tf, tb = r.get("torch_fwd_ms"), r.get("torch_bwd_ms")
            line += f"{_cell(tf, '.2f'):>10}{_cell(tb, '.2f'):>10}"
            total[2] += tf or 0.0
            total[3] += tb or 0.0
        lines.append(line)
    lines.append("-" * len(head))
    end = f"{'total':<66}{total[0]:>8.2f}{total[1]:>8.2f}{'':>18}"
    if has_torch:
        end += f"{total[2]:>10.2f}{total[3]:>10.2f}"
    lines.append(end)
    return "\n".join(lines)
