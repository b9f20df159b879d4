import inspect
import os
import re

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    import cuda_simulator
    cuda_simulator.install()

import tinydl as td  # noqa: E402

_TORCH = 'importorskip("torch")'


def _source(obj) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return ""


def _torch_helpers(module) -> list[str]:
    """Module-level functions that import torch themselves (parity helpers)."""
    return [name for name, obj in vars(module).items()
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and _TORCH in _source(obj)]


def _uses_torch(item, helpers_of) -> bool:
    fn, module = getattr(item, "function", None), getattr(item, "module", None)
    if fn is None or module is None:
        return False
    if re.search(r"^\S.*" + re.escape(_TORCH), _source(module), re.M):   # the whole module
        return True
    src = _source(fn)
    if _TORCH in src:
        return True
    if module not in helpers_of:
        helpers_of[module] = _torch_helpers(module)
    return any(re.search(rf"\b{h}\(", src) for h in helpers_of[module])


def pytest_collection_modifyitems(config, items):
    """Every PyTorch parity test (one that calls pytest.importorskip("torch"), itself, through a
    helper of its module, or at the top of its module) carries the ``torch`` marker, so
    ``-m torch`` selects them all and ``-m "not torch"`` leaves them out."""
    helpers_of = {}
    for item in items:
        if "torch" not in item.keywords and _uses_torch(item, helpers_of):
            item.add_marker(pytest.mark.torch)


@pytest.fixture(autouse=True)
def _fresh_state():
    """Every test starts on the default device with a fixed seed."""
    td.set_device("cpu")
    td.set_seed(0)
    yield
    td.set_device("cpu")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
