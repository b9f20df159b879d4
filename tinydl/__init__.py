"""tinydl: a deep-learning framework made to be read, taught and measured.

    import tinydl as td
    from tinydl import layers, optimizers, losses, callbacks
    model = td.Sequential([layers.Input((2,)), layers.Dense(16, activation="relu"), layers.Dense(2)])
"""
import os as _os

# Numba's OpenMP workers spin on their cores after every parallel region by default; on a small
# machine that starves the BLAS call or the other process that comes next (measured 2-40x
# slower: docs/kernels.md, "dense"). Passive waiting has to be chosen before OpenMP loads, so it
# is set here, before any kernel module imports Numba. A value the user set is kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
