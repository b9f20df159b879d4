"""Configs: what ``get_config`` returns and ``from_config`` takes back.

A config is an object's constructor arguments as JSON values (no arrays, no objects), so that
``type(obj).from_config(obj.get_config())`` builds an equal object. ``init_config`` reads them
back from the attributes of the same names (for optimizers, losses, schedules and metrics, whose
constructors store their arguments as given); layers write theirs out by hand.

``custom_object_scope({"MyLayer": MyLayer})`` makes user classes (layers, initializers, ...)
known by name to every deserialization inside it, as in Keras.
"""
import inspect
import threading
from contextlib import contextmanager

_local = threading.local()


@contextmanager
def custom_object_scope(custom_objects):
    """Within the block, deserialization also finds the classes of ``custom_objects`` by name."""
    stack = getattr(_local, "stack", [])
    _local.stack = stack + [dict(custom_objects or {})]
    try:
        yield
    finally:
        _local.stack = stack


def custom_objects(extra=None) -> dict:
    """The custom objects in scope, then ``extra`` (a later name wins)."""
    out = {}
    for d in getattr(_local, "stack", []):
        out.update(d)
    out.update(extra or {})
    return out


def init_args(cls) -> list[str]:
    """The named arguments of ``cls.__init__``, following ``**kwargs`` up to the base classes."""
    names = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = list(inspect.signature(init).parameters.values())[1:]
        names += [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                  and p.name not in names]
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names


def init_config(obj) -> dict:
    """``obj``'s constructor arguments, read from its attributes of the same names."""
    config = {}
    for name in init_args(type(obj)):
        if not hasattr(obj, name):
            raise TypeError(f"{type(obj).__name__}.get_config: no attribute {name!r} for the constructor "
                            f"argument of that name; store it as self.{name} or write get_config")
        config[name] = getattr(obj, name)
    return config
