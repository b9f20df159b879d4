"""A full Conv2D against a depthwise-separable one (DepthwiseConv2D + 1x1 Conv2D): parameters,
multiply-adds and forward + backward time side by side, against the formula

    separable / full = (C*k*k + C*F) / (C*F*k*k) = 1/F + 1/k^2        (depth_multiplier 1)

Times are tinydl on the CPU (float32, best of --repeats after a warm-up that includes the compile),
the depthwise step with each of its versions. Small and short on purpose: the machine is shared.
On a loaded machine wall time is noise; ``--clock cpu`` times this process's CPU time instead,
which is meaningful with one thread:

    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_separable.py --clock cpu
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinydl import device, ops  # noqa: E402

# (C, F, H = W, k)
SHAPES = [(32, 64, 16, 3), (64, 128, 8, 3), (32, 32, 16, 5)]


CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = [time.perf_counter]


def best_of(fn, repeats, warmup=2):
    """Best time of ``fn()`` over ``repeats`` calls on the chosen clock, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t = _clock[0]()
        fn()
        best = min(best, _clock[0]() - t)
    return best


def _step(forward, backward, *args):
    def run():
        out, cache = forward(*args)
        backward(out, cache)
    return run


def measure(C, F, S, k, batch, repeats):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, C, S, S)).astype(np.float32)
    w_full = rng.standard_normal((F, C, k, k)).astype(np.float32)
    w_dw = rng.standard_normal((C, 1, k, k)).astype(np.float32)
    w_pw = rng.standard_normal((F, C, 1, 1)).astype(np.float32)
    pad = (k // 2,) * 4
    full = best_of(_step(ops.conv2d_forward, ops.conv2d_backward, x, w_full, None, 1, pad), repeats)
    mid, _ = ops.depthwise_conv2d_forward(x, w_dw, None, 1, pad)
    point = best_of(_step(ops.conv2d_forward, ops.conv2d_backward, mid, w_pw, None, 1, 0), repeats)
    depth = {}
    for v in device.versions("depthwise_conv2d"):
        with device.use_version("depthwise_conv2d", v):
            depth[v] = best_of(_step(ops.depthwise_conv2d_forward, ops.depthwise_conv2d_backward,
                                     x, w_dw, None, 1, pad), repeats)
    return full, point, depth


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--clock", choices=sorted(CLOCK), default="wall")
    args = ap.parse_args(argv)
    _clock[0] = CLOCK[args.clock]
    threads = os.environ.get("NUMBA_NUM_THREADS", "default")
    print(f"load average {os.getloadavg()[0]:.1f}; batch {args.batch}; float32; forward + backward, ms "
          f"({args.clock} clock, NUMBA_NUM_THREADS={threads})")
    print("| C -> F, HxW, k | params full | params separable | ratio | 1/F + 1/k^2 | full ms | "
          "depthwise v1 ms | depthwise v2 ms | pointwise ms | separable (v2) ms | time ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for C, F, S, k in SHAPES:
        full, point, depth = measure(C, F, S, k, args.batch, args.repeats)
        p_full, p_sep = C * F * k * k, C * k * k + C * F
        sep = depth[max(depth)] + point
        print(f"| {C} -> {F}, {S}x{S}, {k} | {p_full} | {p_sep} | {p_sep / p_full:.3f} | {1 / F + 1 / k**2:.3f} | "
              f"{full * 1e3:.1f} | {depth[1] * 1e3:.1f} | {depth[2] * 1e3:.1f} | {point * 1e3:.1f} | "
              f"{sep * 1e3:.1f} | {sep / full:.2f} |")


if __name__ == "__main__":
    main()
