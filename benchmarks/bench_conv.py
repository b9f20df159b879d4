"""Per-op table: conv2d (every CPU version), batch norm and max-pool at the reference CNN's shapes,
forward and backward, side by side with PyTorch CPU in the same run (same thread count).

    python benchmarks/bench_conv.py [--batch 128] [--repeat 5] [--slow-batch 4] [--skip-slow] [--clock cpu]

Times are the best of --repeat runs (the minimum is the least disturbed by other processes).
--clock cpu measures process CPU time instead of wall time: on a shared, loaded machine run it with
one thread (NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1) for a per-core cost that other processes
barely disturb; with several threads it also counts threads spinning while they wait.
Here PyTorch runs in the same process as tinydl (one table, one pass); with several threads their
OpenMP pools can slow each other (benchmarks/_harness.py), so trust the one-thread CPU-time table
most, and bench_cnn.py (separate processes) for the whole step.
The slow loop versions (conv v1, v2, v3) run at --slow-batch images and are scaled to --batch
(their cost is linear in the batch); those rows say so. GFLOP/s counts 2*N*F*C*KH*KW*OH*OW per
pass (a forward's multiply-adds; the backward does twice that). OpenBLAS reads
OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE from the environment; this project's CI sets them and they
slow sgemm here, so the docs' numbers were taken with both unset (say which in a report).
"""
import argparse
import os
import time

import numba
import numpy as np

import tinydl.device
from tinydl import ops

# the reference CNN: four [Conv2D(c, 3, same), BN, ReLU, MaxPool(2)] blocks on (3, 32, 32)
BLOCKS = [(3, 64, 32), (64, 128, 16), (128, 256, 8), (256, 512, 4)]   # (C_in, C_out, H)


CLOCK = {"clock": time.perf_counter}


def best(fn, repeat):
    clock = CLOCK["clock"]
    fn()
    times = []
    for _ in range(repeat):
        t = clock()
        fn()
        times.append(clock() - t)
    return min(times)


def sgemm_rate(n=4096, repeat=3):
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    return 2 * n ** 3 / best(lambda: a @ b, repeat) / 1e9


def torch_pair(torch, fwd, inputs, repeat):
    """(forward seconds, backward seconds) of a torch op; backward timed alone on a kept graph."""
    with torch.no_grad():
        tf = best(lambda: fwd(*inputs), repeat)
    out = fwd(*inputs)
    dout = torch.randn_like(out)
    tb = best(lambda: out.backward(dout, retain_graph=True), repeat)
    return tf, tb


def tinydl_pair(fwd, bwd, repeat):
    out, cache = fwd()
    dout = np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)
    return best(fwd, repeat), best(lambda: bwd(dout, cache), repeat)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--slow-batch", type=int, default=4)
    p.add_argument("--skip-slow", action="store_true", help="skip conv v1, v2 and v3")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = p.parse_args()
    if args.clock == "cpu":
        CLOCK["clock"] = time.process_time
    try:
        import torch
    except ImportError:
        torch = None
    threads = numba.get_num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    N = args.batch
    peak = sgemm_rate()
    print(f"threads {threads}; numpy sgemm 4096^2: {peak:.0f} GFLOP/s; batch {N}; best of {args.repeat}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}; load {os.getloadavg()[0]:.1f}; "
          f"{args.clock} clock")
    head = (f"{'op':<10}{'shape (C,H,W)->F':<20}{'ver':<6}{'fwd ms':>9}{'bwd ms':>9}{'GFLOP/s':>9}"
            f"{'%sgemm':>8}{'torch fwd':>11}{'torch bwd':>11}{'time ratio':>11}")
    print(head + "\n" + "-" * len(head))
    versions = tinydl.device.versions("conv2d", "cpu")
    for C, F, H in BLOCKS:
        x = rng.standard_normal((N, C, H, H)).astype(np.float32)
        w = (rng.standard_normal((F, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32)
        b = np.zeros(F, np.float32)
        flops = 2 * N * F * C * 9 * H * H
        tt = None
        if torch is not None:
            xt = torch.tensor(x, requires_grad=True)
            wt = torch.tensor(w, requires_grad=True)
            bt = torch.tensor(b, requires_grad=True)
            tt = torch_pair(torch, lambda a, k, c: torch.nn.functional.conv2d(a, k, c, padding=1), (xt, wt, bt), args.repeat)
        for v in versions:
            slow = v <= 3     # the loop versions, and v3's per-image loop, at --slow-batch
            if slow and args.skip_slow:
                continue
            n = args.slow_batch if slow else N
            xs = x[:n]
            with tinydl.device.use_version("conv2d", v):
                tf, tb = tinydl_pair(lambda: ops.conv2d_forward(xs, w, b, 1, 1), ops.conv2d_backward,
                                     1 if slow else args.repeat)
            tf, tb = tf * N / n, tb * N / n
            rate = 3 * flops / (tf + tb) / 1e9
            row = f"{'conv2d':<10}{f'({C},{H},{H})->{F}':<20}{f'v{v}':<6}{tf * 1e3:>9.1f}{tb * 1e3:>9.1f}{rate:>9.1f}{100 * rate / peak:>7.1f}%"
            if tt:
                row += f"{tt[0] * 1e3:>11.1f}{tt[1] * 1e3:>11.1f}{(tf + tb) / sum(tt):>10.2f}x"
            print(row + (f"   (batch {n}, scaled x{N // n})" if slow else ""))
    for C, F, H in BLOCKS:
        x = rng.standard_normal((N, F, H, H)).astype(np.float32)
        gamma, beta = np.ones(F, np.float32), np.zeros(F, np.float32)
        rm, rv = np.zeros(F, np.float32), np.ones(F, np.float32)
        for fam, name, fwd, bwd, tfn in [
            ("batchnorm", "batchnorm", lambda: ops.batchnorm_forward(x, gamma, beta, rm, rv), ops.batchnorm_backward,
             lambda a, g, bb: torch.nn.functional.batch_norm(a, None, None, g, bb, training=True, eps=1e-3)),
            ("pool2d", "maxpool", lambda: ops.maxpool2d_forward(x, 2), ops.maxpool2d_backward,
             lambda a, g, bb: torch.nn.functional.max_pool2d(a, 2)),
        ]:
            tt = None
            if torch is not None:
                xt = torch.tensor(x, requires_grad=True)
                gt = torch.tensor(gamma, requires_grad=True)
                bt = torch.tensor(beta, requires_grad=True)
                tt = torch_pair(torch, tfn, (xt, gt, bt), args.repeat)
            for v in tinydl.device.versions(fam, "cpu"):
                with tinydl.device.use_version(fam, v):
                    tf, tb = tinydl_pair(fwd, bwd, args.repeat)
                row = f"{name:<10}{f'({F},{H},{H})':<20}{f'v{v}':<6}{tf * 1e3:>9.2f}{tb * 1e3:>9.2f}{'':>9}{'':>8}"
                if tt:
                    row += f"{tt[0] * 1e3:>11.2f}{tt[1] * 1e3:>11.2f}{(tf + tb) / sum(tt):>10.2f}x"
                print(row)
    print("time ratio = tinydl (fwd + bwd) / torch (fwd + bwd): below 1 is faster than PyTorch")


if __name__ == "__main__":
    main()
