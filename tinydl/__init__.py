"""tinydl: a deep-learning framework made to be read, taught and measured."""
from tinydl.device import get_device, set_device, to_numpy
from tinydl.parameter import Parameter
from tinydl.random import set_seed

__version__ = "0.1.0"

__all__ = ["get_device", "set_device", "to_numpy", "Parameter", "set_seed", "__version__"]
