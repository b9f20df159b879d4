"""tinydl: a deep-learning framework made to be read, taught and measured.

    import tinydl as td
    from tinydl import layers, optimizers, losses, callbacks
    model = td.Sequential([layers.Input((2,)), layers.Dense(16, activation="relu"), layers.Dense(2)])
"""
import os as _os

from tinydl import _malloc, _threads

# kernels/ and datasets/ sit beside tinydl/ in the repository and install as tinydl.kernels and
# tinydl.datasets. Run from a source checkout (`python -m tinydl` in the repository root puts the
# checkout first on sys.path), the package also looks beside itself for them.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_root, "kernels", "_versions.py")) and \
        _os.path.isfile(_os.path.join(_root, "datasets", "shapes10.py")):
    __path__.append(_root)

# before any kernel module loads Numba's thread pool: see tinydl/_threads.py
THREADING = _threads.configure()
BLAS = _threads.configure_blas()   # one thread per call: kernels/cpu/_blas.py splits products
MALLOC = _malloc.configure()   # large temporaries reused, not re-faulted: tinydl/_malloc.py

from tinydl import (  # noqa: E402  (after the thread setup above)
    callbacks,
    initializers,
    interop,
    layers,
    losses,
    metrics,
    models,
    onnx,
    ops,
    optimizers,
    utils,
)
from tinydl.device import get_device, set_device, to_numpy  # noqa: E402
from tinydl.gradcheck import GradcheckError, gradcheck  # noqa: E402
from tinydl.layers.input_layer import Input  # noqa: E402
from tinydl.models import Model, Sequential  # noqa: E402
from tinydl.parameter import Parameter  # noqa: E402
from tinydl.random import set_seed  # noqa: E402
from tinydl.tape import GradientTape  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Sequential", "Model", "Input", "GradientTape", "models", "Parameter", "gradcheck", "GradcheckError",
    "set_device", "get_device", "to_numpy", "set_seed",
    "layers", "ops", "losses", "optimizers", "callbacks", "metrics", "initializers", "interop", "onnx", "utils",
    "__version__",
]
