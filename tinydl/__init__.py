"""tinydl: a deep-learning framework made to be read, taught and measured.

    import tinydl as td
    from tinydl import layers, optimizers, losses, callbacks
    model = td.Sequential([layers.Input((2,)), layers.Dense(16, activation="relu"), layers.Dense(2)])
"""
from tinydl import _threads

# before any kernel module loads Numba's thread pool: see tinydl/_threads.py
THREADING = _threads.configure()
_threads.configure_blas()

from tinydl import callbacks, initializers, layers, losses, metrics, ops, optimizers  # noqa: E402
from tinydl.device import get_device, set_device, to_numpy  # noqa: E402
from tinydl.gradcheck import GradcheckError, gradcheck  # noqa: E402
from tinydl.models import Sequential  # noqa: E402
from tinydl.parameter import Parameter  # noqa: E402
from tinydl.random import set_seed  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Sequential", "Parameter", "gradcheck", "GradcheckError",
    "set_device", "get_device", "to_numpy", "set_seed",
    "layers", "ops", "losses", "optimizers", "callbacks", "metrics", "initializers",
    "__version__",
]
