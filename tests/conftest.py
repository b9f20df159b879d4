import numpy as np
import pytest

import tinydl as td


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
