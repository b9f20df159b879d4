"""One MLP training step, tinydl against PyTorch on the CPU, side by side in one run.

    python benchmarks/bench_mlp.py            # 784-512-512-10, batch 256, Adam, float32

A step is forward, softmax cross-entropy, backward and the Adam update of every weight. PyTorch
runs the same network (nn.Linear layers, F.cross_entropy, torch.optim.Adam) on the same number of
threads. Each framework runs in its own child process with its own threading defaults, the
children alternate over --rounds rounds, and each reports the best of --repeat steps after a
warm-up (which also compiles the Numba kernels); see _harness.py for why.
ratio = torch time / tinydl time: tinydl's throughput relative to PyTorch (1.0 = as fast).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import best_of, environment_line, report, side_by_side  # noqa: E402


def make_batch(batch, sizes):
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, sizes[0])).astype(np.float32), rng.integers(0, sizes[-1], batch)


def tinydl_step(sizes, x, y):
    import tinydl as td
    from tinydl import layers

    model = td.Sequential([layers.Input((sizes[0],))] +
                          [layers.Dense(s, activation="relu") for s in sizes[1:-1]] + [layers.Dense(sizes[-1])])
    model.compile(optimizer=td.optimizers.Adam(1e-3),
                  loss=td.losses.SparseCategoricalCrossentropy(from_logits=True))
    return lambda: model.train_on_batch(x, y)


def torch_step(sizes, x, y):
    import numba
    import torch

    torch.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    mods = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*mods[:-1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--sizes", type=int, nargs="+", default=[784, 512, 512, 10])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", choices=["tinydl", "torch"])
    args = parser.parse_args(argv)
    x, y = make_batch(args.batch, args.sizes)
    if args.child:
        step = (tinydl_step if args.child == "tinydl" else torch_step)(args.sizes, x, y)
        report({"step": best_of(step, 5 if args.quick else args.repeat)})
        return
    passed = ["--batch", str(args.batch), "--repeat", str(args.repeat), "--sizes", *map(str, args.sizes)]
    best = side_by_side(__file__, ["tinydl", "torch"], passed + (["--quick"] if args.quick else []),
                        rounds=1 if args.quick else args.rounds)
    import torch
    flops = 6 * args.batch * sum(a * b for a, b in zip(args.sizes[:-1], args.sizes[1:], strict=True))
    print(f"MLP {'-'.join(map(str, args.sizes))} train step, batch {args.batch}, Adam, float32; "
          f"torch {torch.__version__}; {environment_line()}")
    print(f"{'':<8}{'ms/step':>10}{'GFLOP/s':>10}{'samples/s':>12}")
    for name in ("tinydl", "torch"):
        t = best[name]["step"]
        print(f"{name:<8}{t * 1e3:>10.2f}{flops / t / 1e9:>10.1f}{args.batch / t:>12.0f}")
    print(f"throughput ratio tinydl/torch = {best['torch']['step'] / best['tinydl']['step']:.2f}x")


if __name__ == "__main__":
    main()
