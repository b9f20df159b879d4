"""layers.serialize / layers.deserialize: a layer as {"class_name", "config"} and back.

(A minimal version so that model configs work; the saving work extends it to every layer's
full config, initializers and activations.)
"""


def serialize(layer):
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _classes():
    from tinydl import layers, models

    found = {name: getattr(layers, name) for name in layers.__all__ if isinstance(getattr(layers, name), type)}
    found["InputLayer"] = layers.InputLayer
    found.update({"Model": models.Model, "Functional": models.Model, "Sequential": models.Sequential})
    return found


def deserialize(config, custom_objects=None):
    """A new layer from serialize's dict; ``custom_objects`` maps class names to classes."""
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise ValueError(f"a layer config must be a dict with 'class_name' and 'config'; received {config!r}")
    classes = {**_classes(), **(custom_objects or {})}
    name = config["class_name"]
    if name not in classes:
        raise ValueError(f"unknown layer class {name!r}: pass it in custom_objects={{{name!r}: {name}}}")
    return classes[name].from_config(dict(config["config"]))
