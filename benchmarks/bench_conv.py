"""Per-op table: conv2d (every CPU version), batch norm and max-pool at the reference CNN's shapes,
forward and backward, side by side with PyTorch CPU (same thread count).

    python benchmarks/bench_conv.py [--batch 128] [--repeat 5] [--rounds 2] [--slow-batch 4]
                                    [--skip-slow] [--clock cpu] [--quick]

Each framework is timed in a child process of its own (benchmarks/_harness.py): the tinydl child
never imports torch and the torch child never imports tinydl (it reads Numba's thread count and
calls torch.set_num_threads with it), so each runs with its own OpenMP runtime and threading
defaults; in one process their OpenMP pools slowed each other. The children alternate (tinydl,
torch, tinydl, ...) for --rounds rounds so load from other processes falls on both alike, and
each time is the best over all rounds of --repeat runs after a warm-up (which compiles the
Numba kernels). --quick: two repeats, one round. No threading environment is set here; tinydl
sets its own defaults when imported.
--clock cpu measures process CPU time instead of wall time: on a shared, loaded machine run it with
one thread (NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1) for a per-core cost that other processes
barely disturb; with several threads it also counts threads spinning while they wait.
The slow loop versions (conv v1, v2, v3) run once per round at --slow-batch images and are scaled
to --batch (their cost is linear in the batch); those rows say so. GFLOP/s counts
2*N*F*C*KH*KW*OH*OW per pass (a forward's multiply-adds; the backward does twice that); %sgemm is
against NumPy's 4096^2 sgemm measured in the parent (2048^2 with --quick). OpenBLAS reads
OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE from the environment; this project's CI sets them and they
slow sgemm here, so the docs' numbers were taken with both unset (say which in a report).
"""
import argparse
import os
import sys
import time
from functools import partial
from importlib import metadata

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import best_of, environment_line, report, side_by_side  # noqa: E402

# the reference CNN: four [Conv2D(c, 3, same), BN, ReLU, MaxPool(2)] blocks on (3, 32, 32)
BLOCKS = [(3, 64, 32), (64, 128, 16), (128, 256, 8), (256, 512, 4)]   # (C_in, C_out, H)
SLOW_CONV = (1, 2, 3)     # the loop versions, and v3's per-image loop: run at --slow-batch


def timer(clock):
    """best_of with the wall clock; the same loop on process CPU time for --clock cpu."""
    if clock == "wall":
        return best_of

    def best_cpu(fn, repeats, warmup=1):
        for _ in range(warmup):
            fn()
        best = float("inf")
        for _ in range(repeats):
            t = time.process_time()
            fn()
            best = min(best, time.process_time() - t)
        return best
    return best_cpu


def sgemm_rate(n, repeat):
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    return 2 * n ** 3 / best_of(lambda: a @ b, repeat, warmup=1) / 1e9


def inputs(N):
    """The arrays of every row, from one seeded generator, in the order of the table."""
    rng = np.random.default_rng(0)
    conv = []
    for C, F, H in BLOCKS:
        x = rng.standard_normal((N, C, H, H)).astype(np.float32)
        w = (rng.standard_normal((F, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32)
        conv.append((f"({C},{H},{H})->{F}", x, w, np.zeros(F, np.float32)))
    norm = [(f"({F},{H},{H})", rng.standard_normal((N, F, H, H)).astype(np.float32)) for C, F, H in BLOCKS]
    return conv, norm


def tinydl_child(args, best):
    """Every conv2d version, every batchnorm and pool2d version; never imports torch.
    Keys: 'op|shape|version|fwd' and '...|bwd', seconds (slow versions scaled to --batch)."""
    import tinydl.device
    from tinydl import ops

    def pair(fwd, bwd, repeat, fwd_warmup):
        out, cache = fwd()           # compiles the forward: a warm-up of its own
        dout = np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)
        return best(fwd, repeat, fwd_warmup), best(lambda: bwd(dout, cache), repeat, 1)

    N, times = args.batch, {}
    conv, norm = inputs(N)
    for shape, x, w, b in conv:
        for v in tinydl.device.versions("conv2d", "cpu"):
            slow = v in SLOW_CONV
            if slow and args.skip_slow:
                continue
            n = args.slow_batch if slow else N
            xs = np.ascontiguousarray(x[:n])
            with tinydl.device.use_version("conv2d", v):
                tf, tb = pair(partial(ops.conv2d_forward, xs, w, b, 1, 1), ops.conv2d_backward,
                              1 if slow else args.repeat, 0 if slow else 1)
            times[f"conv2d|{shape}|v{v}|fwd"], times[f"conv2d|{shape}|v{v}|bwd"] = tf * N / n, tb * N / n
    for shape, x in norm:
        F = x.shape[1]
        gamma, beta = np.ones(F, np.float32), np.zeros(F, np.float32)
        rm, rv = np.zeros(F, np.float32), np.ones(F, np.float32)
        for fam, name, fwd, bwd in [
            ("batchnorm", "batchnorm", partial(ops.batchnorm_forward, x, gamma, beta, rm, rv), ops.batchnorm_backward),
            ("pool2d", "maxpool", partial(ops.maxpool2d_forward, x, 2), ops.maxpool2d_backward),
        ]:
            for v in tinydl.device.versions(fam, "cpu"):
                with tinydl.device.use_version(fam, v):
                    tf, tb = pair(fwd, bwd, args.repeat, 1)
                times[f"{name}|{shape}|v{v}|fwd"], times[f"{name}|{shape}|v{v}|bwd"] = tf, tb
    assert "torch" not in sys.modules, "the tinydl child must not load PyTorch's OpenMP runtime"
    report(times)


def torch_child(args, best):
    """The same ops in PyTorch on Numba's thread count; never imports tinydl. Forward timed under
    no_grad; backward timed alone on a kept graph (retain_graph)."""
    import numba
    import torch

    torch.set_num_threads(numba.config.NUMBA_NUM_THREADS)

    def pair(fwd, arrays):
        tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
        with torch.no_grad():
            tf = best(lambda: fwd(*tensors), args.repeat, 1)
        out = fwd(*tensors)
        dout = torch.randn_like(out)
        return tf, best(lambda: out.backward(dout, retain_graph=True), args.repeat, 1)

    times = {}
    conv, norm = inputs(args.batch)
    for shape, x, w, b in conv:
        times[f"conv2d|{shape}|torch|fwd"], times[f"conv2d|{shape}|torch|bwd"] = pair(
            lambda a, k, c: torch.nn.functional.conv2d(a, k, c, padding=1), (x, w, b))
    for shape, x in norm:
        F = x.shape[1]
        gb = (x, np.ones(F, np.float32), np.zeros(F, np.float32))
        times[f"batchnorm|{shape}|torch|fwd"], times[f"batchnorm|{shape}|torch|bwd"] = pair(
            lambda a, g, bb: torch.nn.functional.batch_norm(a, None, None, g, bb, training=True, eps=1e-3), gb)
        times[f"maxpool|{shape}|torch|fwd"], times[f"maxpool|{shape}|torch|bwd"] = pair(
            lambda a: torch.nn.functional.max_pool2d(a, 2), (x,))
    assert "tinydl" not in sys.modules
    report(times)


def table(res, args, peak):
    """One row per tinydl (op, shape, version), in the tinydl child's order, torch's beside it."""
    N, ours, theirs = args.batch, res["tinydl"], res.get("torch", {})
    flops = {f"({C},{H},{H})->{F}": 2 * N * F * C * 9 * H * H for C, F, H in BLOCKS}
    head = (f"{'op':<10}{'shape (C,H,W)->F':<20}{'ver':<6}{'fwd ms':>9}{'bwd ms':>9}{'GFLOP/s':>9}"
            f"{'%sgemm':>8}{'torch fwd':>11}{'torch bwd':>11}{'time ratio':>11}")
    print(head + "\n" + "-" * len(head))
    for key in ours:
        op, shape, ver, pass_ = key.split("|")
        if pass_ != "fwd":
            continue
        tf, tb = ours[key], ours[f"{op}|{shape}|{ver}|bwd"]
        digits = 1 if op == "conv2d" else 2
        row = f"{op:<10}{shape:<20}{ver:<6}{tf * 1e3:>9.{digits}f}{tb * 1e3:>9.{digits}f}"
        if op == "conv2d":
            rate = 3 * flops[shape] / (tf + tb) / 1e9
            row += f"{rate:>9.1f}{100 * rate / peak:>7.1f}%"
        else:
            row += f"{'':>9}{'':>8}"
        tt = (theirs.get(f"{op}|{shape}|torch|fwd"), theirs.get(f"{op}|{shape}|torch|bwd"))
        if tt[0] is not None:
            row += f"{tt[0] * 1e3:>11.{digits}f}{tt[1] * 1e3:>11.{digits}f}{(tf + tb) / sum(tt):>10.2f}x"
        slow = op == "conv2d" and int(ver[1:]) in SLOW_CONV
        print(row + (f"   (batch {args.slow_batch}, scaled x{N // args.slow_batch})" if slow else ""))
    print("time ratio = tinydl (fwd + bwd) / torch (fwd + bwd): below 1 is faster than PyTorch")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds of child processes")
    p.add_argument("--slow-batch", type=int, default=4)
    p.add_argument("--skip-slow", action="store_true", help="skip conv v1, v2 and v3")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    p.add_argument("--quick", action="store_true", help="two repeats, one round")
    p.add_argument("--child", choices=["tinydl", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.repeat, args.rounds = min(args.repeat, 2), 1
    if args.child:
        return (tinydl_child if args.child == "tinydl" else torch_child)(args, timer(args.clock))

    children = ["tinydl"]
    try:
        torch_version = metadata.version("torch")
        children.append("torch")
    except metadata.PackageNotFoundError:
        torch_version = "not installed"
    n = 2048 if args.quick else 4096
    peak = sgemm_rate(n, 2 if args.quick else 3)
    passed = ["--batch", str(args.batch), "--repeat", str(args.repeat), "--slow-batch", str(args.slow_batch),
              "--clock", args.clock] + (["--skip-slow"] if args.skip_slow else [])
    res = side_by_side(__file__, children, passed, rounds=args.rounds)
    print(f"numpy sgemm {n}^2: {peak:.0f} GFLOP/s; batch {args.batch}; best of {args.repeat} x "
          f"{args.rounds} round(s), each framework in its own process; {args.clock} clock; torch {torch_version}")
    print(environment_line())
    table(res, args, peak)


if __name__ == "__main__":
    main()
