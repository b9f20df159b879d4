"""model.summary(): Keras's table.

    Layer (type) | Output Shape | Param #                  Sequential, subclassed models
    Layer (type) | Output Shape | Param # | Connected to     functional graphs
then the totals (all, trainable, non-trainable). A subclassed model shows the output shapes of
its last call ("?" before any call).
"""
from tinydl.layers.input_layer import InputLayer


def _params(layer):
    return f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"


def _shape(tensors):
    shapes = [str(t.shape) for t in tensors]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _graph_rows(model, connected):
    from tinydl.models.functional import node_indices

    index = node_indices(model._nodes, model._inputs)
    rows = []
    nodes = [t.node for t in model._inputs] + list(model._nodes) if connected else list(model._nodes)
    for node in nodes:
        layer = node.layer
        if isinstance(layer, InputLayer) and not connected:
            continue
        links = ", ".join(f"{t.node.layer.name}[{index[id(t.node)]}][{t.index}]" for t in node.inputs)
        row = [f"{layer.name} ({type(layer).__name__})", _shape(node.outputs), _params(layer)]
        rows.append(row + [links or "-"] if connected else row)
    return rows


def _subclass_rows(model):
    shapes = {}
    if model._last_tape is not None:
        for rec in model._last_tape[0].records:
            shapes.setdefault(id(rec.fn), [(None, *o.shape[1:]) for o in rec.outputs])
    rows = []
    for layer in model.layers:
        s = shapes.get(id(layer))
        shown = "?" if s is None else str(s[0]) if len(s) == 1 else str(s)
        rows.append([f"{layer.name} ({type(layer).__name__})", shown, _params(layer)])
    return rows


def text(model):
    connected = model._graph and not getattr(model, "_is_sequential", False)
    rows = _graph_rows(model, connected) if model._graph else _subclass_rows(model)
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else [])
    widths = [34, 26, 12] + ([30] if connected else [])
    widths = [max([w] + [len(r[i]) + 2 for r in rows]) for i, w in enumerate(widths)]

    def line(cells):
        return "".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    width = sum(widths)
    out = [f'Model: "{model.name}"', "_" * width, line(header), "=" * width]
    for i, row in enumerate(rows):
        out.append(line(row))
        out.append(("=" if i == len(rows) - 1 else "_") * width)
    trainable_ids = {id(p) for p in model.trainable_weights}
    total = sum(p.size for p in model.weights)
    trainable = sum(p.size for p in model.weights if id(p) in trainable_ids)
    out += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}", "_" * width]
    return "\n".join(out)
