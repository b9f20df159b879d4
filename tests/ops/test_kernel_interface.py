"""The kernel interface, on every device, in the default run: each family module of 'cpu' and
'cuda' has every public function of the reference's module with the same parameters; a
versioned module's VERSIONS / DEFAULT are well formed; and its docstring's lesson plan lists
exactly its VERSIONS. (The cuda modules import without a GPU: numba.cuda compiles lazily.)"""
import importlib
import inspect
import pkgutil
import re

import pytest

import tinydl.kernels.reference as reference_pkg

FAMILIES = sorted(m.name for m in pkgutil.iter_modules(reference_pkg.__path__) if not m.name.startswith("_"))
DEVICES = ["cpu", "cuda"]


def _module(dev, family):
    return importlib.import_module(f"tinydl.kernels.{dev}.{family}")


def _public_functions(module):
    """The kernel interface of a reference module: its op pairs (*_forward, *_backward), or all its
    public functions for a family without pairs (elementwise, optim); other public functions
    are the reference's own helpers (e.g. dropout's ``uniform``)."""
    public = {name: fn for name, fn in vars(module).items()
              if inspect.isfunction(fn) and not name.startswith("_") and fn.__module__ == module.__name__}
    pairs = {n: f for n, f in public.items() if n.endswith(("_forward", "_backward"))}
    return pairs or public


def _params(fn):
    return [(p.name, p.kind) for p in inspect.signature(fn).parameters.values()]


def test_the_families_are_the_ones_the_ops_use():
    assert {"activations", "attention", "batchnorm", "conv2d", "dense", "dropout", "elementwise",
            "layernorm", "losses", "optim", "pool2d", "sequence"} <= set(FAMILIES)


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("family", FAMILIES)
def test_every_device_has_the_references_functions_and_signatures(dev, family):
    ref = _public_functions(_module("reference", family))
    module = _module(dev, family)
    assert ref, f"kernels/reference/{family}.py has no public function"
    for name, fn in ref.items():
        assert hasattr(module, name), f"kernels/{dev}/{family}.py lacks {name}"
        assert _params(getattr(module, name)) == _params(fn), f"{dev}.{family}.{name}"


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("family", FAMILIES)
def test_versions_are_well_formed_and_match_the_lesson_plan(dev, family):
    module = _module(dev, family)
    listed = sorted(int(v) for v in re.findall(r"^v(\d+) ", module.__doc__ or "", re.M))
    if not hasattr(module, "VERSIONS"):
        assert not hasattr(module, "DEFAULT") and listed == [], f"{dev}.{family}: a ladder without VERSIONS"
        return
    table, ref = module.VERSIONS, _public_functions(_module("reference", family))
    assert isinstance(table, dict) and table, f"{dev}.{family}.VERSIONS must be a non-empty dict"
    assert sorted(table) == list(range(1, len(table) + 1)), f"{dev}.{family}: versions must be 1..n"
    assert module.DEFAULT in table, f"{dev}.{family}.DEFAULT={module.DEFAULT} is not a version"
    assert listed == sorted(table), f"{dev}.{family}: the docstring lists {listed}, VERSIONS has {sorted(table)}"
    names = set(table[1])
    for v, entry in table.items():
        assert isinstance(entry, dict) and set(entry) == names, f"{dev}.{family} v{v}: {sorted(entry)}"
        for name, fn in entry.items():
            assert name in ref, f"{dev}.{family} v{v}.{name} is not a reference function"
            assert callable(fn) and _params(fn) == _params(ref[name]), f"{dev}.{family} v{v}.{name}"
    forwards = {n for n in names if n.endswith("_forward")}
    assert {n.replace("_forward", "_backward") for n in forwards} <= names | {
        n for n in ref if not n.endswith("_backward")}, f"{dev}.{family}: a versioned forward without its backward"
