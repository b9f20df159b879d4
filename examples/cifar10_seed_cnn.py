"""The seed recipe: the reference CNN on CIFAR-10 (about 81% test accuracy after 10 epochs).

    python examples/cifar10_seed_cnn.py                       # downloads CIFAR-10 once (170 MB)
    python examples/cifar10_seed_cnn.py --archive cifar-10-python.tar.gz
    python examples/cifar10_seed_cnn.py --dataset shapes10    # offline, same sizes (50,000 images)

Recipe: four [Conv 3x3 same, BatchNorm, ReLU, MaxPool 2] blocks (64, 128, 256, 512 channels),
Dense 1024 and 512 with ReLU and dropout 0.5, Dense 10 (logits); Adam 1e-3 with weight decay
1e-4; softmax cross-entropy from logits; random crop (pad 4) + horizontal flip; per-channel
normalization with CIFAR-10's mean and standard deviation; batch 128; 10 epochs.
"""
import argparse
import time

import tinydl as td
from tinydl import callbacks, optimizers, zoo
from tinydl.datasets import DataLoader, cifar10, shapes10


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["cifar10", "shapes10"], default="cifar10")
    p.add_argument("--archive", default=None, help="a local cifar-10-python.tar.gz")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--n-train", type=int, default=None, help="only the first N training images")
    p.add_argument("--out", default="seed_cnn.npz", help="where the best weights are saved")
    args = p.parse_args(argv)

    td.set_seed(0)
    if args.dataset == "cifar10":
        (x, y), (xt, yt) = cifar10.load_data(archive=args.archive)
    else:
        (x, y), (xt, yt) = shapes10.load_data(n_train=50000, n_test=10000, seed=0)
    if args.n_train:
        x, y = x[:args.n_train], y[:args.n_train]
    model = zoo.seed_cnn()
    model.compile(optimizer=optimizers.Adam(1e-3, weight_decay=1e-4),
                  loss=td.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.summary()
    train = DataLoader(x, y, batch_size=args.batch_size, shuffle=True, augment="crop_flip", normalize="cifar10", seed=0)
    test = DataLoader(xt, yt, batch_size=256, shuffle=False, normalize="cifar10")
    t0 = time.perf_counter()
    model.fit(train, epochs=args.epochs, validation_data=test,
              callbacks=[callbacks.ModelCheckpoint(args.out, monitor="val_accuracy", save_best_only=True)])
    minutes = (time.perf_counter() - t0) / 60
    loss, acc = model.evaluate(test)
    print(f"test accuracy {acc:.4f} after {args.epochs} epochs, {minutes / args.epochs:.1f} min per epoch")


if __name__ == "__main__":
    main()
