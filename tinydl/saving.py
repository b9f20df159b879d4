"""Saving: a whole model in one .keras file, or its weights in an .npz file.

    model.save("net.keras")                 save_model(model, "net.keras")
    model = td.models.load_model("net.keras")   architecture, weights, and compiled as it was saved,
                                            with the optimizer's state: training resumes exactly
    model.save_weights("w.npz")             save_weights(model, "w.npz")
    model.load_weights("w.npz")             load_weights(model, "w.npz") (a .keras file works too)

A .keras file is a zip archive, as in Keras 3:
    config.json            {"format": "tinydl.keras", "format_version": 1, "class_name": "Sequential",
                            "config": model.get_config(), "build_config": {"input_shape", "dtype"},
                            "weights": [{"name", "shape", "dtype"}, ...], "compile_config": {...}}
    model.weights.npz      every weight in the order of model.weights: w0000, w0001, ...
    optimizer.weights.npz  the optimizer's step count and per-weight state ("3.m": Adam's m of weight 3)
Files are written atomically (tinydl/_io.py). Loading reads and checks everything (the archive,
the classes it names, every array's count, shape and dtype) before it assigns anything.
"""
import inspect
import io
import json
import os
import zipfile
import zlib

import numpy as np

from tinydl import _io
from tinydl._config import custom_object_scope
from tinydl.layers.serialization import deserialize, get_class, serialize

FORMAT, FORMAT_VERSION = "tinydl.keras", 1
CONFIG, WEIGHTS, OPTIMIZER = "config.json", "model.weights.npz", "optimizer.weights.npz"
SUPPORTED = {".keras": "the whole model: model.save / save_model",
             ".npz": "the weights only: model.save_weights / save_weights"}

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "custom_object_scope"]


# -- file names -------------------------------------------------------------------------------
def check_extension(filepath, expected, owner) -> str:
    """``filepath`` as a str, if its name ends with ``expected`` (".keras" or ".npz")."""
    path = os.fspath(filepath)
    if not isinstance(path, str):
        path = os.fsdecode(path)
    if path.lower().endswith(expected):
        return path
    name = os.path.basename(path)
    ext = name[name.find("."):] if "." in name else "no extension"
    formats = "; ".join(f"'{e}' ({what})" for e, what in SUPPORTED.items())
    raise ValueError(f"{owner} writes a tinydl {expected} file, so the name must end in '{expected}'. "
                     f"tinydl writes {formats}; it does not write {ext} files (HDF5, PyTorch and ONNX "
                     f"are other formats). Received: filepath={path!r}")


# -- whole models -----------------------------------------------------------------------------
def save_model(model, filepath):
    """Write ``model`` to ``filepath`` (a .keras zip), atomically."""
    path = check_extension(filepath, ".keras", "save_model")
    _require_built(model, "save_model")
    params = list(model.weights)
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, "class_name": type(model).__name__,
              "config": _model_config(model), "build_config": _build_config(model, params),
              "weights": [{"name": p.name, "shape": list(p.shape), "dtype": np.dtype(p.dtype).name}
                          for p in params],
              "compile_config": _compile_config(model)}
    try:
        text = json.dumps(config, indent=1)
    except (TypeError, ValueError) as e:
        raise ValueError(f"save_model: the model's config is not JSON ({e}); every get_config must "
                         "return plain values (numbers, strings, lists, dicts)") from None
    members = {CONFIG: text.encode(), WEIGHTS: _npz_bytes({f"w{i:04d}": w for i, w in
                                                            enumerate(model.get_weights())})}
    if config["compile_config"] is not None:
        members[OPTIMIZER] = _npz_bytes(model.optimizer.get_state(params))
    with _io.atomic_open(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def load_model(filepath, custom_objects=None, compile=True):
    """The model saved in ``filepath``, compiled as it was saved (unless ``compile=False``).
    ``custom_objects`` maps the names of your own classes (layers, models, losses...) to them."""
    path = os.fspath(filepath)
    _io.clean_orphans(path)
    # step 1: read and check the whole archive
    members = _read_archive(path)
    config = _parse_config(path, members[CONFIG])
    arrays = _read_npz(members.get(WEIGHTS), f"{path}: {WEIGHTS}")
    weights = [arrays[f"w{i:04d}"] if f"w{i:04d}" in arrays else None for i in range(len(arrays))]
    if any(w is None for w in weights):
        raise ValueError(f"{path}: {WEIGHTS} must hold w0000..w{len(arrays) - 1:04d}; "
                         f"it holds {sorted(arrays)}")
    compile_config = config.get("compile_config") if compile else None
    opt_state = (_read_npz(members.get(OPTIMIZER), f"{path}: {OPTIMIZER}")
                 if compile_config is not None and OPTIMIZER in members else {})
    # step 2: the model from its config, built; its weights checked against the arrays
    with custom_object_scope(custom_objects):
        try:
            model = _model_from_config(config, custom_objects)
        except (TypeError, KeyError, AttributeError) as e:
            raise ValueError(f"{path}: its {CONFIG} does not build a model "
                             f"({type(e).__name__}: {e})") from None
        _check_weights(model.weights, weights, path, exact_dtype=True)
        optimizer = None
        if compile_config is not None:
            optimizer = _deserialize(compile_config["optimizer"], _optimizer_classes(), "optimizer")
            _check_state(model.weights, opt_state, path)
            compile_args = compile_arguments(compile_config, optimizer)
    # step 3: everything fits: assign
    model.set_weights(weights)
    if optimizer is not None:
        model.compile(**compile_args)
        optimizer.set_state(model.weights, opt_state)
    return model


def _require_built(model, what):
    if getattr(model, "built", True):
        return
    try:
        model.build()
    except ValueError as e:
        raise ValueError(f"{what} needs a built model: {e}") from None


def _model_config(model):
    if hasattr(model, "get_config"):
        return model.get_config()
    from tinydl.models import Sequential
    if isinstance(model, Sequential):
        return _sequential_config(model)
    raise ValueError(f"{type(model).__name__} cannot be saved: it has no get_config()")


def _sequential_config(model):
    """Keras's Sequential config, for a Sequential that has no get_config of its own."""
    entries = [serialize(layer) for layer in model.layers]
    inp = getattr(model, "_input", None)
    if inp is not None:
        entries.insert(0, {"class_name": "InputLayer",
                           "config": {"batch_shape": [None, *inp.shape], "name": inp.name}})
    return {"name": model.name, "layers": entries}


def _sequential_from_config(cls, config):
    from tinydl.layers import Input
    items = []
    for entry in config["layers"]:
        if entry.get("class_name") == "InputLayer":
            items.append(Input(tuple(entry["config"]["batch_shape"][1:]), name=entry["config"].get("name")))
        else:
            items.append(deserialize(entry))
    return cls(items, name=config.get("name", "sequential"))


def _build_config(model, params):
    shape = getattr(model, "input_shape", None)
    if shape is None and getattr(model, "layers", None):
        shape = getattr(model.layers[0], "_build_input_shape", None)
    dtype = getattr(model, "dtype", None) or (params[0].dtype if params else None)
    return {"input_shape": None if shape is None else _jsonable_shape(shape),
            "dtype": None if dtype is None else np.dtype(dtype).name}


def _jsonable_shape(shape):
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [_jsonable_shape(s) for s in shape]           # several inputs
    return [None if d is None else int(d) for d in shape]


def _model_from_config(config, custom_objects):
    from tinydl.models import Sequential
    cls = get_class(config["class_name"], custom_objects, what="model")
    if hasattr(cls, "from_config"):
        takes_custom = "custom_objects" in inspect.signature(cls.from_config).parameters
        model = (cls.from_config(config["config"], custom_objects=custom_objects) if takes_custom
                 else cls.from_config(config["config"]))
    elif isinstance(cls, type) and issubclass(cls, Sequential):
        model = _sequential_from_config(cls, config["config"])
    else:
        raise ValueError(f"model class {cls.__name__!r} has no from_config: it cannot be loaded")
    build = config.get("build_config") or {}
    dtype = np.dtype(build.get("dtype") or "float32")
    if not getattr(model, "built", True):
        if build.get("input_shape") is None:
            raise ValueError(f"the saved {cls.__name__} records no input shape to build it from")
        shape = build["input_shape"]
        shape = [tuple(s) for s in shape] if shape and isinstance(shape[0], list) else tuple(shape)
        model.build(shape, dtype=dtype)
    elif getattr(model, "dtype", None) is not None and model.dtype != dtype:
        model.build(dtype=dtype)            # built at construction in float32; saved in another
    return model


# -- compiling --------------------------------------------------------------------------------
def _compile_config(model):
    """The model's compile settings as JSON values (model.get_compile_config), None uncompiled."""
    get = getattr(model, "get_compile_config", None)
    return None if get is None else get()


def compile_arguments(config, optimizer=None):
    """compile's keyword arguments from a compile config (``optimizer``: one already made)."""
    from tinydl import losses, metrics
    if optimizer is None:
        optimizer = _deserialize(config["optimizer"], _optimizer_classes(), "optimizer")
    args = {"optimizer": optimizer,
            "loss": _deserialize(config.get("loss"), _classes(losses, losses.Loss), "loss"),
            "metrics": _deserialize(config.get("metrics") or [], _classes(metrics, metrics.Metric), "metric")}
    if config.get("loss_weights") is not None:
        args["loss_weights"] = config["loss_weights"]
    return args


def serialize_object(obj, name=None):
    """None, a name (kept as it is), a list or dict of them, or an object with get_config as
    {"class_name", "config"} (``name`` replaces the config's "name")."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_object(o) for o in obj]
    if isinstance(obj, dict):
        return {"__dict__": {k: serialize_object(v) for k, v in obj.items()}}
    config = obj.get_config()
    return {"class_name": type(obj).__name__, "config": config if name is None else {**config, "name": name}}


def _deserialize(d, classes, what):
    if d is None or isinstance(d, str):
        return d
    if isinstance(d, list):
        return [_deserialize(o, classes, what) for o in d]
    if "__dict__" in d:
        return {k: _deserialize(v, classes, what) for k, v in d["__dict__"].items()}
    from tinydl._config import custom_objects
    classes = {**classes, **custom_objects()}
    if d.get("class_name") not in classes:
        raise ValueError(f"unknown {what} class {d.get('class_name')!r}; expected one of {sorted(classes)} "
                         "(pass custom_objects={name: cls} to load_model for your own)")
    return classes[d["class_name"]].from_config(dict(d.get("config") or {}))


def _classes(module, base):
    return {name: obj for name, obj in vars(module).items()
            if isinstance(obj, type) and issubclass(obj, base)}


def _optimizer_classes():
    from tinydl import optimizers
    return _classes(optimizers, optimizers.Optimizer)


# -- weights only -----------------------------------------------------------------------------
def _architecture(model):
    return [type(layer).__name__ for layer in model.layers]


def save_weights(model, filepath):
    """Write every weight to an .npz file, atomically (a failed write keeps the old file)."""
    path = check_extension(filepath, ".npz", "save_weights")
    _require_built(model, "save_weights")
    arrays = {f"w{i:04d}": w for i, w in enumerate(model.get_weights())}
    with _io.atomic_open(path, "wb") as f:
        np.savez(f, __architecture__=np.array(_architecture(model)), **arrays)


def load_weights(model, filepath):
    """Load weights saved by save_weights (or the weights of a .keras file). A file of another
    architecture, or any array of the wrong count, shape or dtype, is refused with ValueError
    and the model is left unchanged."""
    path = os.fspath(filepath)
    _io.clean_orphans(path)
    if not getattr(model, "built", True):
        model.build()
    with open(path, "rb") as f:
        data = f.read()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValueError(f"{path} is not a tinydl weights file: expected an .npz (or .keras) archive, "
                         f"found {_describe(data)}")
    inner = _read_archive(path, data, require_config=False)
    data = inner[WEIGHTS] if CONFIG in inner else data
    arrays = _read_npz(data, path)
    saved_arch = arrays.pop("__architecture__", None)
    if saved_arch is not None and list(saved_arch) != _architecture(model):
        raise ValueError(f"{path} holds weights of layers {list(saved_arch)}; this model has "
                         f"{_architecture(model)}")
    weights = [arrays[k] for k in sorted(k for k in arrays if k.startswith("w"))]
    _check_weights(model.weights, weights, path, exact_dtype=False)
    model.set_weights(weights)


# -- checks -----------------------------------------------------------------------------------
class WeightDtypeError(TypeError, ValueError):
    """A weights file holds an array that is not numbers (strings, objects): a TypeError as
    set_weights raises for such an array, and a ValueError as for every other bad file."""


def _check_weights(params, arrays, path, exact_dtype):
    if len(arrays) != len(params):
        raise ValueError(f"{path} holds {len(arrays)} weight arrays; the model has {len(params)}")
    for i, (p, a) in enumerate(zip(params, arrays, strict=True)):
        if tuple(a.shape) != p.shape:
            raise ValueError(f"{path}: weight {i} ({p.name!r}) has shape {tuple(a.shape)} in the file; "
                             f"the model's is {p.shape}")
        if not exact_dtype and a.dtype.kind not in "biuf":     # set_weights's rule and message
            raise WeightDtypeError(f"{path}: weight {i} ({p.name!r}) needs numbers castable to "
                            f"{np.dtype(p.dtype)}; the file holds an array of dtype {a.dtype}")
        if exact_dtype and a.dtype != p.dtype:
            raise ValueError(f"{path}: weight {i} ({p.name!r}) has dtype {a.dtype} in the file; "
                             f"expected {np.dtype(p.dtype).name}")


def _check_state(params, state, path):
    for name, value in state.items():
        index, _, key = name.partition(".")
        if name == "iterations":
            if value.shape != () or value.dtype.kind not in "iu":
                raise ValueError(f"{path}: the optimizer's step count must be one integer")
        elif not index.isdigit() or int(index) >= len(params) or not key:
            raise ValueError(f"{path}: optimizer state {name!r} names no weight of the model")
        elif value.shape != params[int(index)].shape or value.dtype != params[int(index)].dtype:
            p = params[int(index)]
            raise ValueError(f"{path}: optimizer state {name!r} is {value.dtype}{value.shape}; "
                             f"its weight {p.name!r} is {p.dtype}{p.shape}")


def _describe(data: bytes) -> str:
    if not data:
        return "an empty file"
    head = data[:64]
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return f"text ({head[:40].decode(errors='replace')!r}...)"
    return f"binary data starting {head[:8]!r}"


def _read_archive(path, data=None, require_config=True) -> dict:
    """The members of the zip at ``path`` as {name: bytes}, each CRC-checked."""
    if data is None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"no such file: {path!r}") from None
    not_ours = f"{path} is not a tinydl model archive (.keras)"
    if not zipfile.is_zipfile(io.BytesIO(data)):
        if data[:4] == b"PK\x03\x04":
            raise ValueError(f"{path} is a damaged archive (truncated or corrupted): a zip whose "
                             "directory at the end is missing")
        raise ValueError(f"{not_ours}: expected a zip archive, found {_describe(data)}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = {name: z.read(name) for name in z.namelist()}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
        raise ValueError(f"{path} is a damaged archive (truncated or corrupted): {e}") from None
    if require_config and CONFIG not in members:
        hint = " (it looks like a weights file: load it with model.load_weights)" if any(
            n.endswith(".npy") for n in members) else ""
        raise ValueError(f"{not_ours}: it holds no {CONFIG}{hint}")
    return members


def _parse_config(path, text):
    try:
        config = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: {CONFIG} is not valid JSON ({e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path} is not a tinydl model archive: {CONFIG} lacks \"format\": \"{FORMAT}\"")
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} is format version {config.get('format_version')!r}; this tinydl "
                         f"reads version {FORMAT_VERSION}")
    for key in ("class_name", "config"):
        if key not in config:
            raise ValueError(f"{path}: {CONFIG} has no {key!r}")
    return config


def _npz_bytes(arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _read_npz(data, what) -> dict:
    """{name: array} from .npz bytes, refusing pickled objects and arrays whose header declares
    more data than the member holds (before allocating them)."""
    if data is None:
        raise ValueError(f"{what} is missing")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            out = {}
            for info in z.infolist():
                with z.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version not in _HEADER_READERS:
                        raise ValueError(f"array {info.filename!r} is .npy version {version}; expected 1.0 or 2.0")
                    shape, _, dtype = _HEADER_READERS[version](f)
                    header = f.tell()
                if dtype.hasobject:
                    raise ValueError(f"array {info.filename!r} holds Python objects (pickled); refused")
                needed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                if needed > info.file_size - header:
                    raise ValueError(f"array {info.filename!r} declares {shape} {dtype} "
                                     f"({needed} bytes) but holds {info.file_size - header}")
                with z.open(info) as f:
                    out[info.filename.removesuffix(".npy")] = np.lib.format.read_array(f, allow_pickle=False)
            return out
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
        raise ValueError(f"{what} is not a readable .npz: {e}") from None
