"""tinydl.layers: one module per family; each layer keeps call() and backward() adjacent."""
from tinydl.layers.base import Layer

__all__ = ["Layer"]
