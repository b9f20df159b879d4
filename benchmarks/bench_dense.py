"""Dense forward + backward on the CPU: every kernel version side by side with PyTorch.

    python benchmarks/bench_dense.py               # (256, 784) x (784, 512), float32
    python benchmarks/bench_dense.py --repeat 50 --batch 256 --features 784 --units 512
    python benchmarks/bench_dense.py --quick       # few repeats, one round

One step is y = x @ w + b and the backward dx, dw, db (three GEMMs and a column sum), on
(batch, features) x (features, units) float32 arrays. PyTorch runs the same work on the same
number of threads (torch.set_num_threads(numba.config.NUMBA_NUM_THREADS)): an autograd step through
torch.nn.functional.linear, and the same three products written by hand (addmm, mm, mm, sum) so
the comparison is GEMM for GEMM.

Each framework is timed in a child process of its own (benchmarks/_harness.py): the tinydl
child never imports torch and the torch child never imports tinydl, so each runs with its own
OpenMP runtime and threading defaults (in one process PyTorch's spinning workers slowed
tinydl's kernels, and a process-wide OMP_WAIT_POLICY=PASSIVE slowed PyTorch by 10-70%). The
children alternate (tinydl, torch, tinydl, ...) for --rounds rounds so that load from other
processes falls on both alike; each time is the best over all rounds of --repeat runs after a
warm-up that also compiles the Numba kernels (the naive v1 gets --naive-repeat runs). This
script sets no threading environment variables; tinydl sets its own defaults when imported.
The ratio columns are tinydl time / torch time (lower is better, 1.0 = as fast as PyTorch) and
torch time / tinydl time (throughput), against the faster of the two PyTorch variants.
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set in this environment and can slow NumPy's BLAS; the
header says which were set, and the numbers quoted in docs/kernels.md say so too.
"""
import argparse
import os
import sys
from importlib import metadata

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import best_of, environment_line, report, side_by_side  # noqa: E402

TORCH_BY_HAND = "torch (addmm, mm, mm, sum)"
TORCH_AUTOGRAD = "torch autograd F.linear"


def make_arrays(n, k, u):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, k)).astype(np.float32)
    w = (rng.standard_normal((k, u)) * 0.05).astype(np.float32)
    b = rng.standard_normal(u).astype(np.float32)
    dout = rng.standard_normal((n, u)).astype(np.float32)
    return x, w, b, dout


def tinydl_child(args, x, w, b, dout, quick):
    """Every CPU version, then the NumPy reference; never imports torch."""
    from tinydl import device, ops

    def step(dev, version=None):
        def run():
            with device.using(dev):
                if version is None:
                    out, cache = ops.dense_forward(x, w, b)
                    ops.dense_backward(dout, cache)
                    return
                with device.use_version("dense", version, dev):
                    out, cache = ops.dense_forward(x, w, b)
                    ops.dense_backward(dout, cache)
        return run

    repeat = 5 if quick else args.repeat
    times = {}
    for v in device.versions("dense", "cpu"):
        if v == 1:   # the naive loops: one warm-up (compiles), a few runs
            times[f"tinydl cpu v{v}"] = best_of(step("cpu", v), 1 if quick else args.naive_repeat, warmup=1)
        else:
            times[f"tinydl cpu v{v}"] = best_of(step("cpu", v), repeat)
    times["tinydl reference (NumPy)"] = best_of(step("reference"), repeat)
    assert "torch" not in sys.modules, "the tinydl child must not load PyTorch's OpenMP runtime"
    report(times)


def torch_child(args, x, w, b, dout, quick):
    """The two PyTorch variants on Numba's thread count; never imports tinydl."""
    import numba
    import torch

    torch.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    tx, tw, tb = (torch.from_numpy(a.copy()) for a in (x, w, b))
    twt = torch.from_numpy(np.ascontiguousarray(w.T))      # nn.Linear's (units, in) layout
    tdout = torch.from_numpy(dout)
    txg, twg, tbg = (a.clone().requires_grad_() for a in (tx, twt, tb))

    def autograd():
        out = torch.nn.functional.linear(txg, twg, tbg)
        out.backward(tdout)
        txg.grad = twg.grad = tbg.grad = None

    def by_hand():
        with torch.no_grad():
            torch.addmm(tb, tx, tw)
            tdout.mm(tw.T)
            tx.T.mm(tdout)
            tdout.sum(0)

    repeat = 5 if quick else args.repeat
    assert "tinydl" not in sys.modules
    report({TORCH_BY_HAND: best_of(by_hand, repeat), TORCH_AUTOGRAD: best_of(autograd, repeat)})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--units", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--naive-repeat", type=int, default=3, help="repeats for the slow v1")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of child processes")
    parser.add_argument("--quick", action="store_true", help="few repeats, one round")
    parser.add_argument("--child", choices=["tinydl", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n, k, u = args.batch, args.features, args.units
    if args.child:
        fn = tinydl_child if args.child == "tinydl" else torch_child
        return fn(args, *make_arrays(n, k, u), args.quick)

    children = ["tinydl"]
    try:
        torch_version = metadata.version("torch")
        children.append("torch")
    except metadata.PackageNotFoundError:
        torch_version = "not installed"
    passed = ["--batch", str(n), "--features", str(k), "--units", str(u), "--repeat", str(args.repeat),
              "--naive-repeat", str(args.naive_repeat)] + (["--quick"] if args.quick else [])
    best = side_by_side(__file__, children, passed, rounds=1 if args.quick else args.rounds)
    rows = list(best["tinydl"].items()) + list(best.get("torch", {}).items())
    torch_time = min(best["torch"].values()) if "torch" in best else None    # the faster PyTorch variant

    print(f"Dense forward + backward, x ({n}, {k}) float32, w ({k}, {u}); torch {torch_version}; "
          f"each framework in its own process, best of {1 if args.quick else args.rounds} round(s)")
    print(environment_line())
    print(f"{'implementation':<30} {'ms':>9} {'/ torch':>9} {'throughput':>11}")
    for name, t in rows:
        ratio = f"{t / torch_time:9.2f}" if torch_time else f"{'-':>9}"
        through = f"{torch_time / t:10.2f}x" if torch_time else f"{'-':>11}"
        print(f"{name:<30} {t * 1e3:9.3f} {ratio} {through}")


if __name__ == "__main__":
    main()
