"""tinydl.datasets: CIFAR-10, the offline shapes10 set, and the DataLoader."""
