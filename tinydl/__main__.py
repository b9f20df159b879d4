"""The command line: demo, train, bench.

    python -m tinydl demo                       train the compact CNN on shapes10 (offline)
    python -m tinydl train --dataset cifar10 --model seed-cnn --epochs 10 --out runs/seed
    python -m tinydl bench                      side-by-side tables against PyTorch
    python -m tinydl bench --only models        the four training steps of the headline table
    python -m tinydl profile --model seed-cnn   per-layer times beside PyTorch
"""
import argparse
import os
import subprocess
import sys
import time


def _data(args):
    from tinydl.datasets import cifar10, shapes10

    if args.dataset == "shapes10":
        return shapes10.load_data(n_train=args.n_train, n_test=args.n_test, seed=args.seed)
    (x, y), (xt, yt) = cifar10.load_data(data_dir=args.data_dir, archive=args.archive)
    if args.n_train:
        x, y = x[:args.n_train], y[:args.n_train]
    if args.n_test:
        xt, yt = xt[:args.n_test], yt[:args.n_test]
    return (x, y), (xt, yt)


def _train(args, title):
    import tinydl as td
    from tinydl import callbacks, optimizers, zoo
    from tinydl.datasets import DataLoader

    td.set_seed(args.seed)
    if args.device:
        td.set_device(args.device)
    t0 = time.perf_counter()
    (x, y), (xt, yt) = _data(args)
    print(f"{title}: {args.model} on {args.dataset}, {len(x)} training and {len(xt)} test images "
          f"(data ready in {time.perf_counter() - t0:.1f}s)", flush=True)
    model = zoo.get(args.model)
    model.compile(optimizer=optimizers.Adam(args.lr, weight_decay=args.weight_decay),
                  loss=td.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    normalize = "cifar10" if args.dataset == "cifar10" else None
    train = DataLoader(x, y, batch_size=args.batch_size, shuffle=True, normalize=normalize,
                       augment="crop_flip" if args.augment else None, seed=args.seed)
    test = DataLoader(xt, yt, batch_size=256, shuffle=False, normalize=normalize)
    cbs = []
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        cbs.append(callbacks.CSVLogger(os.path.join(args.out, "log.csv")))
    if not _kernels_compiled():
        print("compiling kernels (first run only: Numba caches them on disk)...", flush=True)
    t0 = time.perf_counter()
    history = model.fit(train, epochs=args.epochs, validation_data=test, callbacks=cbs, verbose=args.verbose)
    elapsed = time.perf_counter() - t0
    loss, acc = model.evaluate(test)
    print(f"test accuracy {acc:.4f} (loss {loss:.4f}) after {args.epochs} epochs in {elapsed:.1f}s "
          f"({elapsed / args.epochs:.1f}s per epoch, first-run compile included)")
    if args.out:
        from tinydl.plot import plot_history
        model.save_weights(os.path.join(args.out, "weights.npz"))
        plot_history(history.history, os.path.join(args.out, "curves.png"))
        print(f"wrote {args.out}/weights.npz, log.csv and curves.png")
    return acc


def _kernels_compiled() -> bool:
    """True when Numba's on-disk cache already holds compiled CPU kernels (index files *.nbi
    beside the kernel sources, or under NUMBA_CACHE_DIR)."""
    from tinydl.kernels import cpu

    folders = [os.path.join(os.path.dirname(cpu.__file__), "__pycache__"), os.environ.get("NUMBA_CACHE_DIR", "")]
    for folder in filter(os.path.isdir, folders):
        for _, _, files in os.walk(folder):
            if any(f.endswith(".nbi") for f in files):
                return True
    return False


def _common(p, dataset, model, epochs, n_train, n_test, lr=1e-3):
    from tinydl import zoo

    p.add_argument("--dataset", choices=["shapes10", "cifar10"], default=dataset)
    p.add_argument("--model", choices=sorted(zoo.MODELS), default=model)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--augment", action="store_true", help="random crop (pad 4) and horizontal flip")
    p.add_argument("--device", choices=["reference", "cpu", "cuda"], default=None)
    p.add_argument("--n-train", type=int, default=n_train, help="use only the first N training images")
    p.add_argument("--n-test", type=int, default=n_test, help="use only the first N test images")
    p.add_argument("--data-dir", default=None, help="where CIFAR-10 is cached (default $TINYDL_HOME/datasets)")
    p.add_argument("--archive", default=None, help="a local cifar-10-python.tar.gz to load instead of downloading")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, choices=[0, 1, 2], default=2)


BENCHMARKS = ("bench_models", "bench_mlp", "bench_dense", "bench_conv", "bench_attention", "bench_cnn")


def _bench_names(only):
    """The benchmark scripts to run: all, or those named (``bench_mlp`` or ``mlp``); an unknown
    name is an error that lists the known ones."""
    if not only:
        return list(BENCHMARKS)
    names = []
    for name in only:
        full = name if name.startswith("bench_") else f"bench_{name}"
        if full not in BENCHMARKS:
            raise SystemExit(f"python -m tinydl bench: unknown benchmark {name!r}; expected one of "
                             f"{', '.join(b[6:] for b in BENCHMARKS)}")
        names.append(full)
    return names


def _bench(args):
    names = _bench_names(args.only)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    folder = os.path.join(here, "benchmarks")
    if not os.path.isdir(folder):
        print("benchmarks/ is part of the source checkout: run `python -m tinydl bench` from a clone")
        return 1
    try:
        import torch  # noqa: F401
    except ImportError:
        print("PyTorch is not installed: pip install 'tinydl[bench]' (torch) to compare against it")
        return 1
    from tinydl import _threads

    # the scripts start from the user's environment: what tinydl set for itself at import
    # (passive OpenMP waiting) would slow PyTorch's children
    env = _threads.user_environment()
    status = 0
    for name in names:
        print(f"\n== {name} ==", flush=True)
        script = os.path.join(folder, f"{name}.py")
        status |= subprocess.call([sys.executable, script] + (["--quick"] if args.quick else []), env=env)
    return status


def _profile(args):
    import numpy as np

    from tinydl import zoo

    model = zoo.get(args.model)
    model.build()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch_size,) + tuple(model.input_shape)).astype(np.float32)
    y = rng.integers(0, 10, args.batch_size)
    print(f"{args.model}, batch {args.batch_size}, float32")
    model.profile(x, y, repeat=args.repeat, clock=args.clock, torch=not args.no_torch)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinydl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train the compact CNN on the offline shapes10 set")
    _common(demo, "shapes10", "compact-cnn", 8, 10000, 2000, lr=2e-3)
    demo.add_argument("--out", default=None, help="folder for weights.npz, log.csv and curves.png")
    train = sub.add_parser("train", help="train a named model on a data set")
    _common(train, "shapes10", "seed-cnn", 10, None, None)
    train.add_argument("--out", default="runs/latest", help="folder for weights.npz, log.csv and curves.png")
    bench = sub.add_parser("bench", help="time tinydl against PyTorch, side by side")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions")
    bench.add_argument("--only", nargs="+", metavar="NAME",
                       help="benchmarks to run: models (the four training steps), mlp, dense, conv, attention, cnn")
    prof = sub.add_parser("profile", help="per-layer forward/backward times of a zoo model, beside PyTorch")
    from tinydl import zoo
    prof.add_argument("--model", choices=sorted(zoo.MODELS), required=True)
    prof.add_argument("--batch-size", type=int, default=64)
    prof.add_argument("--repeat", type=int, default=5)
    prof.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    prof.add_argument("--no-torch", action="store_true", help="tinydl's columns only")
    args = parser.parse_args(argv)
    if args.command == "bench":
        return _bench(args)
    if args.command == "profile":
        return _profile(args)
    if args.dataset == "shapes10":
        args.n_train = args.n_train or 10000
        args.n_test = args.n_test or 2000
    _train(args, "demo" if args.command == "demo" else "train")
    return 0


if __name__ == "__main__":
    sys.exit(main())
