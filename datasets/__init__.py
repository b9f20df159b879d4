"""tinydl.datasets: CIFAR-10, the offline shapes10 set, and the DataLoader.

    from tinydl.datasets import cifar10, shapes10, DataLoader
"""
from tinydl.datasets import cifar10, shapes10
from tinydl.datasets.loader import DataLoader

__all__ = ["cifar10", "shapes10", "DataLoader"]
