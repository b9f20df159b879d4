"""The command line: demo, train, bench.

    python -m tinydl demo                       train the compact CNN on shapes10 (offline)
    python -m tinydl train --dataset cifar10 --model seed-cnn --epochs 10 --out runs/seed
    python -m tinydl --version
    python -m tinydl bench                      side-by-side tables against PyTorch
    python -m tinydl launch -n 2 train ...      any of them (or a script) on N ranks through MPI
    python -m tinydl bench --only models        the four training steps of the headline table
    python -m tinydl profile --model seed-cnn   per-layer times beside PyTorch
"""
import argparse
import math
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
    from tinydl import callbacks, optimizers, progbar, zoo
    from tinydl import distributed as dist
    from tinydl.datasets import DataLoader

    # under `launch -n N`: --batch-size is the global batch, rank 0 alone prints and writes files
    rank, world = dist.rank(), dist.world_size()
    say = print if rank == 0 else (lambda *a, **k: None)
    if args.batch_size % world:
        raise SystemExit(f"--batch-size {args.batch_size} (the global batch) must be a multiple of the {world} ranks")
    out = _out_folder(args) if rank == 0 else None
    td.set_seed(args.seed)
    if args.device:
        td.set_device(args.device)
    t0 = time.perf_counter()
    (x, y), (xt, yt) = _data(args)
    say(f"{title}: {args.model} on {args.dataset}, {len(x)} training and {len(xt)} test images "
          f"(data ready in {time.perf_counter() - t0:.1f}s)", flush=True)
    model = zoo.get(args.model)
    train = DataLoader(x, y, batch_size=args.batch_size // world, shuffle=True,
                       normalize="cifar10" if args.dataset == "cifar10" else "unit",   # pixels 0..255 in
                       augment="crop_flip" if args.augment else None, seed=args.seed,
                       shard=(rank, world) if world > 1 else None)
    # cosine: the rate falls to 0 over the whole run, so the last epoch does not end on a noisy step
    lr = optimizers.CosineDecay(args.lr, args.epochs * len(train)) if args.schedule == "cosine" else args.lr
    optimizer = optimizers.Adam(lr, weight_decay=args.weight_decay)
    if world > 1:
        optimizer = dist.DistributedOptimizer(optimizer)
        td.set_seed(dist.rank_seed(args.seed))             # dropout masks of one's own per rank
    model.compile(optimizer=optimizer,
                  loss=td.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    test = DataLoader(xt, yt, batch_size=256, shuffle=False, normalize=train.normalize)
    cbs = [dist.BroadcastWeights(root=0)] if world > 1 else []
    if out:
        os.makedirs(out, exist_ok=True)
        cbs.append(callbacks.CSVLogger(os.path.join(out, "log.csv")))
    compiling = progbar.announce_first_compile(print_fn=say)
    verbose = progbar.auto_verbose() if args.verbose == "auto" else args.verbose
    t0 = time.perf_counter()
    history = model.fit(train, epochs=args.epochs, validation_data=test, callbacks=cbs,
                        verbose=verbose if rank == 0 else 0)
    elapsed = time.perf_counter() - t0
    loss, acc = model.evaluate(test)
    note = ", the first-run compile included" if compiling else ""
    say(f"test accuracy {acc:.4f} (loss {loss:.4f}) after {args.epochs} epochs in {elapsed:.1f}s "
        f"({elapsed / args.epochs:.1f}s per epoch{note})")
    if out:
        from tinydl.plot import plot_history
        model.save_weights(os.path.join(out, "weights.npz"))
        plot_history(history.history, os.path.join(out, "curves.png"), title=f"{args.model} on {args.dataset}")
        print(f"wrote {out}/weights.npz, log.csv and curves.png")
    return acc


class CliError(Exception):
    """A bad value on the command line: printed as one line, exit status 2."""


def _out_folder(args):
    """The folder the run writes to. An explicit --out that already holds files is refused unless
    --overwrite; without --out, train picks runs/MODEL-DATASET, then -2, -3, ... (never reused)."""
    if args.out is None:
        if args.command != "train":
            return None
        base = os.path.join("runs", f"{args.model}-{args.dataset}")
        out, n = base, 1
        while os.path.exists(out):
            n += 1
            out = f"{base}-{n}"
        return out
    if os.path.isfile(args.out):
        raise CliError(f"--out {args.out} is a file; expected a folder")
    if os.path.isdir(args.out) and os.listdir(args.out) and not args.overwrite:
        held = sorted(os.listdir(args.out))
        listed = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
        raise CliError(f"--out {args.out} already holds {listed}; pass --overwrite to replace "
                       "the run's files, or choose another folder")
    return args.out


# ---- argument types: a bad value is one line from argparse, before anything runs ----------------
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; received {text!r}")
    return value


def _number(text, positive):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise argparse.ArgumentTypeError(f"expected a {kind} finite number; received {text!r}")
    return value


def _positive_float(text):
    return _number(text, positive=True)


def _nonnegative_float(text):
    return _number(text, positive=False)


def _verbose(text):
    if text == "auto":
        return "auto"
    if text in ("0", "1", "2"):
        return int(text)
    raise argparse.ArgumentTypeError(f"expected auto, 0, 1 or 2; received {text!r}")


def _common(p, dataset, model, epochs, n_train, n_test, lr=1e-3, schedule="constant"):
    from tinydl import zoo

    p.add_argument("--dataset", choices=["shapes10", "cifar10"], default=dataset, help="the data set")
    p.add_argument("--model", choices=sorted(zoo.MODELS), default=model, help="a model of tinydl.zoo")
    p.add_argument("--epochs", type=_positive_int, default=epochs, help="training epochs")
    p.add_argument("--batch-size", type=_positive_int, default=64, help="training batch size")
    p.add_argument("--lr", type=_positive_float, default=lr, help="Adam's learning rate")
    p.add_argument("--weight-decay", type=_nonnegative_float, default=0.0, help="Adam's L2 weight decay")
    p.add_argument("--schedule", choices=["constant", "cosine"], default=schedule,
                   help="the learning rate: constant, or cosine decay from --lr to 0 over the run")
    p.add_argument("--augment", action="store_true", help="random crop (pad 4) and horizontal flip")
    p.add_argument("--device", choices=["reference", "cpu", "cuda"], default=None,
                   help="the kernels to run (unset: cpu)")
    p.add_argument("--n-train", type=_positive_int, default=n_train,
                   help="use only the first N training images (unset: all; shapes10 makes 10000)")
    p.add_argument("--n-test", type=_positive_int, default=n_test,
                   help="use only the first N test images (unset: all; shapes10 makes 2000)")
    p.add_argument("--data-dir", default=None, help="where CIFAR-10 is cached (unset: $TINYDL_HOME/datasets)")
    p.add_argument("--archive", default=None, help="a local cifar-10-python.tar.gz to load instead of downloading")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, the shuffling and the augmentation")
    p.add_argument("--verbose", type=_verbose, default="auto",
                   help="auto: a live bar on a terminal or in a notebook, else one line per epoch; "
                        "0 silent, 1 the bar, 2 one line per epoch")
    p.add_argument("--overwrite", action="store_true", help="let --out replace the files of an earlier run")


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


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and each option's default in --help."""


def main(argv=None):
    from tinydl import __version__

    parser = argparse.ArgumentParser(prog="python -m tinydl", description=__doc__, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"tinydl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train the compact CNN on the offline shapes10 set", formatter_class=_Formatter)
    _common(demo, "shapes10", "compact-cnn", 8, None, None, lr=2e-3, schedule="cosine")
    demo.add_argument("--out", default=None, help="folder for weights.npz, log.csv and curves.png (unset: none)")
    train = sub.add_parser("train", help="train a named model on a data set", formatter_class=_Formatter)
    _common(train, "shapes10", "seed-cnn", 10, None, None)
    train.add_argument("--out", default=None,
                       help="folder for weights.npz, log.csv and curves.png (unset: a new runs/MODEL-DATASET[-N])")
    bench = sub.add_parser("bench", help="time tinydl against PyTorch, side by side")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions")
    bench.add_argument("--only", nargs="+", metavar="NAME",
                       help="benchmarks to run: models (the four training steps), mlp, dense, conv, attention, cnn")
    prof = sub.add_parser("profile", help="per-layer forward/backward times of a zoo model, beside PyTorch",
                          formatter_class=_Formatter)
    from tinydl import zoo
    prof.add_argument("--model", choices=sorted(zoo.MODELS), required=True, help="a model of tinydl.zoo")
    prof.add_argument("--batch-size", type=_positive_int, default=64, help="batch size")
    prof.add_argument("--repeat", type=_positive_int, default=5, help="timed steps per layer")
    prof.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="wall time or process CPU time")
    prof.add_argument("--no-torch", action="store_true", help="tinydl's columns only")
    from tinydl.distributed import launch
    launch.add_parser(sub, commands=("demo", "train"))
    args = parser.parse_args(argv)
    if args.command == "bench":
        return _bench(args)
    if args.command == "profile":
        return _profile(args)
    if args.command == "launch":
        return launch.run(args)
    if args.dataset == "shapes10":
        args.n_train = args.n_train or 10000
        args.n_test = args.n_test or 2000
    try:
        _train(args, "demo" if args.command == "demo" else "train")
    except CliError as e:
        parser.exit(2, f"python -m tinydl {args.command}: error: {e}\n")
    except (ValueError, TypeError, OSError) as e:
        # a bad value found past argparse (an archive that is not CIFAR-10, a device without a GPU)
        if os.environ.get("TINYDL_TRACEBACK"):
            raise
        parser.exit(1, f"python -m tinydl {args.command}: error: {e}\n"
                       "(set TINYDL_TRACEBACK=1 to see where it was raised)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
