"""One training step of the reference CNN, tinydl against PyTorch on the CPU, in one run.

    python benchmarks/bench_cnn.py [--batch 128] [--repeat 5] [--no-cold]

Network: (3, 32, 32) -> four [Conv2D(c, 3, same), BatchNormalization, ReLU, MaxPooling2D(2)]
blocks, c = 64, 128, 256, 512 -> Flatten -> Dense(1024, relu) -> Dropout(0.5) -> Dense(512, relu)
-> Dropout(0.5) -> Dense(10); Adam(1e-3, weight_decay=1e-4); softmax cross-entropy from logits.
A step is forward, loss, backward and the Adam update, float32, on the same number of threads.

  step time   best of --repeat steps after two warm-up steps, each framework in its own child
              process (benchmarks/_harness.py: PyTorch's and Numba's OpenMP pools slow each
              other down in one process), the children alternating for --rounds rounds so load
              from other processes falls on both alike; the best is kept;
              throughput ratio = torch step time / tinydl step time (1.0 = as fast as PyTorch)
  peak memory ru_maxrss of each child (tracemalloc does not see Numba's or BLAS's allocations)
  compile     the first step of a child with an empty Numba cache (NUMBA_CACHE_DIR in a fresh
              temporary folder): what a user waits once; then the first step with a warm cache
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import best_of, environment_line, report, side_by_side  # noqa: E402

CHANNELS = (64, 128, 256, 512)


def make_batch(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, n).astype(np.int64)


def tinydl_step(x, y):
    import tinydl as td
    from tinydl import layers

    td.set_seed(0)
    model = td.Sequential([layers.Input((3, 32, 32))])
    for c in CHANNELS:
        for layer in (layers.Conv2D(c, 3, padding="same"), layers.BatchNormalization(), layers.ReLU(),
                      layers.MaxPooling2D(2)):
            model.add(layer)
    for layer in (layers.Flatten(), layers.Dense(1024, activation="relu"), layers.Dropout(0.5),
                  layers.Dense(512, activation="relu"), layers.Dropout(0.5), layers.Dense(10)):
        model.add(layer)
    model.compile(optimizer=td.optimizers.Adam(1e-3, weight_decay=1e-4),
                  loss=td.losses.SparseCategoricalCrossentropy(from_logits=True))
    return lambda: model.train_on_batch(x, y)


def torch_step(x, y):
    import torch
    from torch import nn

    torch.manual_seed(0)
    mods, c_in = [], 3
    for c in CHANNELS:
        # Keras's BN defaults: momentum 0.99 (PyTorch's 0.01), epsilon 1e-3
        mods += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c, eps=1e-3, momentum=0.01), nn.ReLU(),
                 nn.MaxPool2d(2)]
        c_in = c
    mods += [nn.Flatten(), nn.Linear(512 * 2 * 2, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 512),
             nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10)]
    net = nn.Sequential(*mods).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7, weight_decay=1e-4)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(xt), yt)
        loss.backward()
        opt.step()
        return float(loss.detach())
    return step


def set_threads(framework):
    """PyTorch gets Numba's thread count; the tinydl child never imports torch (an OpenMP runtime
    loaded first changes tinydl's threading, see tinydl/_threads.py)."""
    import numba
    n = numba.config.NUMBA_NUM_THREADS
    if framework == "torch":
        import torch
        torch.set_num_threads(n)
    return n


def child(framework, batch, repeat, cold):
    """Run in a subprocess: build, the first step (timed), the best of ``repeat`` more, peak RSS."""
    set_threads(framework)
    x, y = make_batch(batch)
    step = (tinydl_step if framework == "tinydl" else torch_step)(x, y)
    t = time.perf_counter()
    step()
    first = time.perf_counter() - t
    best = float("nan") if cold else best_of(step, repeat, warmup=1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB -> MiB on Linux
    report({"first_step_s": first, "step_s": best, "peak_rss_mib": peak})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--no-cold", action="store_true", help="skip the empty-cache compile measurement")
    p.add_argument("--quick", action="store_true", help="two steps, one round, no compile measurement")
    p.add_argument("--child", choices=["tinydl", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child, args.batch, args.repeat, args.cold)
    if args.quick:
        args.repeat, args.rounds, args.no_cold = 2, 1, True

    print(f"reference CNN, batch {args.batch}, float32; {environment_line()}")
    if not args.no_cold:
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache}
            out = subprocess.run([sys.executable, __file__, "--child", "tinydl", "--cold", "--batch",
                                  str(args.batch)], capture_output=True, text=True, env=env, check=True)
        cold = json.loads(next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))[7:])
        print(f"tinydl first step, empty Numba cache (compiling): {cold['first_step_s']:.1f} s")
    names = ["tinydl"]
    try:
        import torch  # noqa: F401
        names.append("torch")
    except ImportError:
        print("PyTorch is not installed: tinydl alone")
    res = side_by_side(__file__, names, ["--batch", str(args.batch), "--repeat", str(args.repeat)], args.rounds)
    print(f"tinydl first step, warm Numba cache:              {res['tinydl']['first_step_s']:.1f} s")
    print(f"{'framework':<10}{'step ms':>10}{'images/s':>10}{'peak RSS MiB':>14}")
    for name in names:
        r = res[name]
        print(f"{name:<10}{r['step_s'] * 1e3:>10.0f}{args.batch / r['step_s']:>10.0f}{r['peak_rss_mib']:>14.0f}")
    if "torch" in res:
        t, d = res["torch"]["step_s"], res["tinydl"]["step_s"]
        print(f"throughput ratio tinydl/torch: {t / d:.2f}x (tinydl step time / torch step time {d / t:.2f})")


if __name__ == "__main__":
    main()
