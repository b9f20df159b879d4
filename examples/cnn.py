"""The reference CNN, layer by layer: build it, read its summary, train it for a few batches.

    python examples/cnn.py                      # shapes10 (offline, CIFAR-sized), 2 epochs of 2,000 images
    python examples/cnn.py --n-train 10000 --epochs 5
    python examples/cnn.py --dataset cifar10    # downloads CIFAR-10 once (170 MB)

Each block is the classic pattern: a 3x3 convolution with "same" padding (the spatial size is kept),
batch normalization (per channel over N, H, W), ReLU, and a 2x2 max-pool (halves H and W). Four
blocks take (3, 32, 32) to (512, 2, 2); two Dense layers with dropout and the logits follow.
examples/cifar10_seed_cnn.py runs the full 10-epoch recipe with augmentation.
"""
import argparse
import time

import tinydl as td
from tinydl import layers, optimizers
from tinydl.datasets import DataLoader, cifar10, shapes10


def reference_cnn(classes=10):
    # PyTorch's default initialization, U(+-1/sqrt(fan_in)): from Keras's Glorot this network sat
    # at chance for its first epochs (see tinydl/zoo.py seed_cnn, which is this same network)
    init = td.initializers.torch_default()
    model = td.Sequential([layers.Input((3, 32, 32))])
    for channels in (64, 128, 256, 512):
        model.add(layers.Conv2D(channels, 3, padding="same", kernel_initializer=init))   # (c, H, W)
        model.add(layers.BatchNormalization())
        model.add(layers.ReLU())
        model.add(layers.MaxPooling2D(2))                        # (c, H/2, W/2)
    model.add(layers.Flatten())                                  # 512 * 2 * 2 = 2048
    model.add(layers.Dense(1024, activation="relu", kernel_initializer=init))
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(512, activation="relu", kernel_initializer=init))
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(classes, kernel_initializer=init))    # logits
    return model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["shapes10", "cifar10"], default="shapes10")
    p.add_argument("--n-train", type=int, default=2000)
    p.add_argument("--n-test", type=int, default=500)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args(argv)

    td.set_seed(0)
    if args.dataset == "cifar10":
        (x, y), (xt, yt) = cifar10.load_data()
    else:
        (x, y), (xt, yt) = shapes10.load_data(n_train=args.n_train, n_test=args.n_test, seed=0)
    x, y, xt, yt = x[:args.n_train], y[:args.n_train], xt[:args.n_test], yt[:args.n_test]

    model = reference_cnn()
    model.compile(optimizer=optimizers.Adam(1e-3, weight_decay=1e-4),
                  loss=td.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.summary()
    train = DataLoader(x, y, batch_size=args.batch_size, shuffle=True, normalize="cifar10", seed=0)
    test = DataLoader(xt, yt, batch_size=256, shuffle=False, normalize="cifar10")
    t0 = time.perf_counter()
    model.fit(train, epochs=args.epochs, validation_data=test)
    seconds = time.perf_counter() - t0
    loss, acc = model.evaluate(test)
    print(f"test loss {loss:.3f}, accuracy {acc:.3f}; {seconds:.0f} s for {args.epochs} epochs "
          f"(the first includes compiling the kernels, once)")


if __name__ == "__main__":
    main()
