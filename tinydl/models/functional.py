"""The graph of a functional model: which nodes to run, in which order, and how.

    nodes(inputs, outputs)     walk back from the outputs to the inputs; every node once,
                               after the nodes whose outputs it takes (topological order)
    run(nodes, ...)            forward in that order; each layer call records onto the
                               model's tape, so backward is the tape's replay (tinydl/tape.py)

Fusion: compile may ask that an output's final softmax (or sigmoid) be left to the loss; the
plan maps that output's node to "layer" (skip the activation layer) or "activation" (run the
layer with apply_activation=False). relu_plan adds the ReLU fusions every run uses: "relu" runs
a layer with fused_relu=True (its output is ReLU'd in the same op). Nothing else about a run
depends on earlier runs.
"""
from tinydl.layers.input_layer import InputLayer
from tinydl.layers.symbolic import KerasTensor, map_structure, symbolic_in


def flat_tensors(x, what):
    """``x`` (a KerasTensor, a list or a dict of them) as a list of KerasTensors, checked."""
    items = list(x.values()) if isinstance(x, dict) else list(x) if isinstance(x, (list, tuple)) else [x]
    for t in items:
        if not isinstance(t, KerasTensor):
            raise TypeError(f"Model {what} must be symbolic tensors (from td.Input and layer calls); "
                            f"received {type(t).__name__}")
    return items


def nodes(inputs, outputs):
    """The nodes between ``inputs`` and ``outputs`` in an order that respects every edge."""
    stops = {id(t) for t in inputs}
    order, done = [], set()
    stack = [(t, False) for t in reversed(outputs)]
    while stack:
        t, expanded = stack.pop()
        if id(t) in stops:
            continue
        node = t.node
        if id(node) in done:
            continue
        if isinstance(node.layer, InputLayer):
            raise ValueError(
                f"Graph disconnected: cannot reach input {t.name!r} from the model's inputs "
                f"{[s.name for s in inputs]}; pass every td.Input the outputs depend on")
        if expanded:
            done.add(id(node))
            order.append(node)
            continue
        stack.append((t, True))
        stack.extend((p, False) for p in reversed(node.inputs) if id(p.node) not in done)
    return order


def consumers(graph_nodes):
    """id(tensor) -> how many node inputs read it inside the graph."""
    count = {}
    for node in graph_nodes:
        for t in node.inputs:
            count[id(t)] = count.get(id(t), 0) + 1
    return count


def relu_plan(graph_nodes, outputs):
    """id(node) -> "relu" / "layer" / "activation": the ReLUs that join their neighbour's op.

        BatchNormalization -> ReLU    one batchnorm_relu op; the ReLU node is skipped
        ReLU -> MaxPooling2D          the pool first, then the ReLU on a quarter of the values
        Conv2D(activation="relu") -> MaxPooling2D   the same, the conv run without its ReLU
        Conv2D -> ReLU                one conv2d_relu op, where no max-pool took the ReLU
                                      (a Conv2D(activation="relu") fuses its own by itself)

    Only where the first node's output goes to the second alone (not to another layer, not a
    model output): every result and gradient is then exactly the unfused one."""
    from tinydl.layers.activations import WithActivation, plain_relu
    from tinydl.layers.conv import Conv2D
    from tinydl.layers.normalization import BatchNormalization
    from tinydl.layers.pooling import MaxPooling2D

    plan = {}
    for prev, node in _fusable_pairs(graph_nodes, outputs, plan):
        if plain_relu(node.layer) and type(prev.layer) is BatchNormalization:
            plan[id(prev)], plan[id(node)] = "relu", "layer"
        elif type(node.layer) is MaxPooling2D and plain_relu(prev.layer) and len(prev.inputs) == 1:
            plan[id(prev)], plan[id(node)] = "layer", "relu"
        elif type(node.layer) is MaxPooling2D and isinstance(prev.layer, WithActivation) \
                and plain_relu(prev.layer.activation):
            plan[id(prev)], plan[id(node)] = "activation", "relu"
    for prev, node in _fusable_pairs(graph_nodes, outputs, plan):     # after the pools chose
        if plain_relu(node.layer) and type(prev.layer) is Conv2D and prev.layer.activation is None:
            plan[id(prev)], plan[id(node)] = "relu", "layer"
    return plan


def _fusable_pairs(graph_nodes, outputs, plan):
    # (prev, node): node's one input is prev's one output, read by node alone, not a model
    # output, neither node planned yet (checked as the caller's plan grows) nor called with kwargs
    reads, ids, outs = consumers(graph_nodes), {id(n) for n in graph_nodes}, {id(t) for t in outputs}
    for node in graph_nodes:
        if len(node.inputs) != 1 or len(node.outputs) != 1 or id(node) in plan:
            continue
        t = node.inputs[0]
        prev = t.node
        if id(prev) not in ids or id(prev) in plan or len(prev.outputs) != 1 or reads.get(id(t)) != 1 \
                or id(t) in outs or node.kwargs or prev.kwargs:
            continue
        yield prev, node


def run(graph_nodes, inputs, arrays, outputs, training, plan=None):
    """The output arrays for ``arrays`` fed to ``inputs`` (KerasTensors, in order)."""
    plan = plan or {}
    values = {id(t): a for t, a in zip(inputs, arrays, strict=True)}
    for node in graph_nodes:
        args = map_structure(lambda t: values[id(t)], node.args)
        fuse = plan.get(id(node))
        if fuse == "layer":                         # the final activation is left to the loss
            outs = [args[0]]
        else:
            kwargs = dict(node.kwargs, apply_activation=False) if fuse == "activation" else \
                dict(node.kwargs, fused_relu=True) if fuse == "relu" else node.kwargs
            out = node.layer(*args, training=training, **kwargs)
            outs = list(out) if len(node.outputs) > 1 else [out]
        for t, a in zip(node.outputs, outs, strict=True):
            if tuple(a.shape[1:]) != t.shape[1:]:
                raise ValueError(
                    f"layer {node.layer.name!r} returned shape {(None, *a.shape[1:])} where its "
                    f"compute_output_shape promised {t.shape}: fix {type(node.layer).__name__}"
                    ".compute_output_shape")
            values[id(t)] = a
    return [values[id(t)] for t in outputs]


def ref(t, node_index):
    """[layer name, node index, tensor index]: how a config names a tensor."""
    return [t.node.layer.name, node_index[id(t.node)], t.index]


def node_indices(graph_nodes, inputs):
    """id(node) -> its index among its layer's nodes in this graph (Keras's node_index)."""
    index, per_layer = {}, {}
    for node in [t.node for t in inputs] + list(graph_nodes):
        if id(node) not in index:
            k = per_layer.get(id(node.layer), 0)
            index[id(node)], per_layer[id(node.layer)] = k, k + 1
    return index


def get_config(model):
    """A JSON-able description: layers (once each), nodes in run order, inputs and outputs."""
    from tinydl.layers import serialization

    graph_nodes = model._nodes
    index = node_indices(graph_nodes, model._inputs)
    layers, seen = [], set()
    for node in [t.node for t in model._inputs] + graph_nodes:
        if id(node.layer) not in seen:
            seen.add(id(node.layer))
            layers.append({**serialization.serialize(node.layer), "name": node.layer.name})
    return {
        "name": model.name,
        "layers": layers,
        "nodes": [{"layer": n.layer.name,
                   "args": [map_structure(lambda t: ref(t, index), a) if symbolic_in(a) else a for a in n.args],
                   "kwargs": n.kwargs} for n in graph_nodes],
        "input_layers": [ref(t, index) for t in model._inputs],
        "output_layers": [ref(t, index) for t in model._outputs],
        "input_keys": model._input_keys,
        "output_keys": model._output_keys,
        "single_input": model._single_input,
        "single_output": model._single_output,
    }


def from_config(config, custom_objects=None):
    """(inputs, outputs) rebuilt from get_config's dict: new layers, called as recorded."""
    from tinydl.layers import serialization

    by_name = {}
    for entry in config["layers"]:
        layer = serialization.deserialize(entry, custom_objects=custom_objects)
        by_name[entry["name"]] = layer
    made = {}                                       # (layer name, node index) -> node outputs
    for entry in config["input_layers"]:
        layer = by_name[entry[0]]
        made[(entry[0], 0)] = layer._inbound_nodes[-1].outputs
    counts = {name: 1 for name, _, _ in config["input_layers"]}

    def tensor(r):
        return made[(r[0], r[1])][r[2]]

    def is_ref(v):
        return isinstance(v, list) and len(v) == 3 and isinstance(v[0], str) and (v[0], v[1]) in made

    def resolve(a):
        if is_ref(a):
            return tensor(a)
        if isinstance(a, list):
            return [resolve(v) for v in a]
        return a

    for n in config["nodes"]:
        layer = by_name[n["layer"]]
        out = layer(*[resolve(a) for a in n["args"]], **n.get("kwargs", {}))
        k = counts.get(n["layer"], 0)
        counts[n["layer"]] = k + 1
        made[(n["layer"], k)] = out if isinstance(out, list) else [out]
    inputs = [tensor(r) for r in config["input_layers"]]
    outputs = [tensor(r) for r in config["output_layers"]]
    if config.get("input_keys"):
        inputs = dict(zip(config["input_keys"], inputs, strict=True))
    elif config.get("single_input"):
        inputs = inputs[0]
    if config.get("output_keys"):
        outputs = dict(zip(config["output_keys"], outputs, strict=True))
    elif config.get("single_output"):
        outputs = outputs[0]
    return inputs, outputs
