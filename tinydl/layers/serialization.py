"""A layer as JSON and back, Keras's format:

    serialize(Dense(4, name="out"))  ->  {"class_name": "Dense", "config": {"units": 4, "name": "out", ...}}
    deserialize(that)                ->  a new Dense(4, name="out"), not built

``deserialize`` finds the class by name among the layers tinydl.layers exports, then in
``custom_objects`` (and any ``custom_object_scope`` around the call); an unknown name is a
ValueError that says how to make it known.
"""
from tinydl._config import custom_object_scope
from tinydl._config import custom_objects as _scoped

__all__ = ["serialize", "deserialize", "custom_object_scope"]


def serialize(layer) -> dict:
    """{"class_name": type name, "config": layer.get_config()}."""
    if not hasattr(layer, "get_config"):
        raise TypeError(f"serialize expects a layer with get_config(); received {type(layer).__name__}")
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _builtin_classes() -> dict:
    """Every Layer class exported by tinydl.layers, and the model classes of tinydl.models and
    tinydl (a model nested in another is a layer of it)."""
    import tinydl
    from tinydl import layers, models
    from tinydl.layers.base import Layer
    out = {}
    for module in (models, tinydl):
        for name, obj in vars(module).items():
            if isinstance(obj, type) and hasattr(obj, "fit") and hasattr(obj, "get_weights"):
                out[name] = obj
    for name in getattr(layers, "__all__", dir(layers)):
        obj = getattr(layers, name, None)
        if isinstance(obj, type) and issubclass(obj, Layer) and obj is not Layer:
            out[name] = obj
    return out


def get_class(class_name, custom_objects=None, what="layer"):
    """The class called ``class_name``: custom objects first (yours may shadow a built-in)."""
    custom = _scoped(custom_objects)
    if class_name in custom:
        return custom[class_name]
    builtins = _builtin_classes()
    if class_name in builtins:
        return builtins[class_name]
    raise ValueError(
        f"unknown {what} class {class_name!r}: it is not one of tinydl's layers or models. If it is "
        f"your own class, pass custom_objects={{{class_name!r}: {class_name}}} (to load_model or "
        "deserialize), or load inside custom_object_scope"
    )


def deserialize(config, custom_objects=None):
    """A new (unbuilt) layer from {"class_name", "config"}."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str) \
            or not isinstance(config.get("config", {}), dict):
        raise ValueError("deserialize expects {'class_name': str, 'config': dict}; "
                         f"received {config!r:.200}")
    cls = get_class(config["class_name"], custom_objects)
    with custom_object_scope(custom_objects):    # children (Residual's block, ...) see them too
        return cls.from_config(dict(config.get("config", {})))
