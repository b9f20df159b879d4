"""tinydl.layers: one module per family; each layer keeps call() and backward() adjacent."""
from tinydl.layers.activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from tinydl.layers.base import Layer
from tinydl.layers.core import Dense, Dropout, Flatten, Input

__all__ = [
    "Layer", "Input", "Dense", "Flatten", "Dropout",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax",
]
