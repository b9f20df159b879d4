"""One seedable source of randomness for initializers, dropout seeds and shuffling."""
import numpy as np

_state = {"rng": np.random.default_rng()}


def set_seed(seed: int) -> None:
    """Make weight initialization, dropout masks and shuffling reproducible."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; received {seed!r}")
    _state["rng"] = np.random.default_rng(int(seed))


def generator() -> np.random.Generator:
    return _state["rng"]


def new_seed() -> int:
    """A fresh 63-bit seed for a kernel's counter-based generator (dropout)."""
    return int(_state["rng"].integers(0, 2**63 - 1))
