"""One MLP training step, tinydl against PyTorch on the CPU, side by side in one run.

    python benchmarks/bench_mlp.py            # 784-512-512-10, batch 256, Adam, float32

A step is forward, softmax cross-entropy, backward and the Adam update of every weight. PyTorch
runs the same network (nn.Linear layers, F.cross_entropy, torch.optim.Adam) on the same number of
threads in the same process. Times are the best of --repeat steps after a warm-up (which also
compiles the Numba kernels), taken round-robin so load from other processes falls on both alike.
ratio = torch time / tinydl time: the throughput of tinydl relative to PyTorch (1.0 = as fast).
"""
import argparse
import time

import numpy as np


def _best(fns, repeats):
    for fn in fns.values():
        fn()
        fn()
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def tinydl_step(sizes, x, y):
    import tinydl as td
    from tinydl import layers

    model = td.Sequential([layers.Input((sizes[0],))] +
                          [layers.Dense(s, activation="relu") for s in sizes[1:-1]] + [layers.Dense(sizes[-1])])
    model.compile(optimizer=td.optimizers.Adam(1e-3),
                  loss=td.losses.SparseCategoricalCrossentropy(from_logits=True))
    return lambda: model.train_on_batch(x, y)


def torch_step(sizes, x, y):
    import torch

    mods = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*mods[:-1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xt), yt)
        loss.backward()
        opt.step()
        return float(loss)
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--sizes", type=int, nargs="+", default=[784, 512, 512, 10])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    import numba
    import torch

    torch.set_num_threads(numba.get_num_threads())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, args.sizes[0])).astype(np.float32)
    y = rng.integers(0, args.sizes[-1], args.batch)
    fns = {"tinydl cpu": tinydl_step(args.sizes, x, y), "torch": torch_step(args.sizes, x, y)}
    best = _best(fns, 5 if args.quick else args.repeat)
    flops = 6 * args.batch * sum(a * b for a, b in zip(args.sizes[:-1], args.sizes[1:]))
    print(f"MLP {'-'.join(map(str, args.sizes))} train step, batch {args.batch}, Adam, float32, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'':<12}{'ms/step':>10}{'GFLOP/s':>10}{'samples/s':>12}")
    for name, t in best.items():
        print(f"{name:<12}{t * 1e3:>10.2f}{flops / t / 1e9:>10.1f}{args.batch / t:>12.0f}")
    print(f"throughput ratio tinydl/torch = {best['torch'] / best['tinydl cpu']:.2f}x")


if __name__ == "__main__":
    main()
