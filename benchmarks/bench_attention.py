"""Attention on the CPU: every kernel version side by side with PyTorch, and peak memory.

    python benchmarks/bench_attention.py            # speed table + memory table
    python benchmarks/bench_attention.py --quick    # fewer repeats, one round, smaller memory sizes
    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_attention.py --speed-only
                                                    # one thread each (torch follows Numba's count)

Speed: forward + backward of scaled dot-product attention at batch 8, 4 heads, L = S = 256,
head size 64, float32, against torch.nn.functional.scaled_dot_product_attention on the same
number of threads (ratio = torch time / tinydl time, so 1.0 means as fast as PyTorch and 0.7
means 70% of its speed); then layer norm forward + backward at a ViT block's shape. Each
framework is timed in a child process of its own (benchmarks/_harness.py): the tinydl child never
imports torch and the torch child never imports tinydl, so each runs with its own OpenMP runtime
and threading defaults (in one process their OpenMP pools slowed each other). The children
alternate for --rounds rounds (one with --quick) so load from other processes falls on both
alike; each time is the best over all rounds of N runs after a warm-up that compiles the Numba
kernels. No threading environment is set here; tinydl sets its own defaults when imported.

Memory: peak memory of one forward call at B = 1, L = S = 4096, E = 64, measured two ways:
tracemalloc (NumPy registers its allocations with it; Numba's own allocations inside @njit code
are NOT traced, which is why the second column exists) and the peak resident set size of a child
process (VmHWM after resetting it through /proc/self/clear_refs once the inputs exist).
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set in this environment and can slow NumPy's BLAS; the
numbers in docs/kernels.md were taken with both unset (say so when quoting them).
"""
import argparse
import json
import os
import subprocess
import sys
from importlib import metadata

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import best_of, environment_line, report, side_by_side  # noqa: E402

B, H, L, S, E = 8, 4, 256, 256, 64
LN_SHAPE = (128, 65, 64)


def make_arrays():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((B, H, n, E)).astype(np.float32) for n in (L, S, S))
    dout = rng.standard_normal((B, H, L, E)).astype(np.float32)
    x = rng.standard_normal(LN_SHAPE).astype(np.float32)
    ln_dout = rng.standard_normal(LN_SHAPE).astype(np.float32)
    return q, k, v, dout, x, ln_dout


def tinydl_child(repeat):
    """Every attention version (forward; forward + backward), then layer norm; never imports torch."""
    from tinydl import device, ops

    q, k, v, dout, x, ln_dout = make_arrays()
    times = {}
    for version in device.versions("attention", "cpu"):
        with device.use_version("attention", version, "cpu"):
            def fwd():
                ops.attention_forward(q, k, v)

            def step():
                out, cache = ops.attention_forward(q, k, v)
                ops.attention_backward(dout, cache)

            times[f"tinydl cpu v{version}|fwd"] = best_of(fwd, repeat, warmup=1)
            times[f"tinydl cpu v{version}|step"] = best_of(step, repeat, warmup=1)
    g, b = np.ones(LN_SHAPE[-1], np.float32), np.zeros(LN_SHAPE[-1], np.float32)

    def ln_step():
        out, cache = ops.layernorm_forward(x, g, b)
        ops.layernorm_backward(ln_dout, cache)

    times["layernorm"] = best_of(ln_step, repeat, warmup=1)
    assert "torch" not in sys.modules, "the tinydl child must not load PyTorch's OpenMP runtime"
    report(times)


def torch_child(repeat):
    """SDPA (forward under no_grad; forward + backward) and layer norm on Numba's thread count;
    never imports tinydl."""
    import numba
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    q, k, v, dout, x, ln_dout = make_arrays()
    tq, tk, tv = (torch.from_numpy(a).requires_grad_() for a in (q, k, v))
    tdout = torch.from_numpy(dout)

    def fwd():
        with torch.no_grad():
            F.scaled_dot_product_attention(tq, tk, tv)

    def step():
        F.scaled_dot_product_attention(tq, tk, tv).backward(tdout)

    tx = torch.from_numpy(x).requires_grad_()
    tg, tb = torch.ones(LN_SHAPE[-1], requires_grad=True), torch.zeros(LN_SHAPE[-1], requires_grad=True)
    tln_dout = torch.from_numpy(ln_dout)

    def ln_step():
        F.layer_norm(tx, LN_SHAPE[-1:], tg, tb, eps=1e-3).backward(tln_dout)

    times = {"torch sdpa|fwd": best_of(fwd, repeat, warmup=1), "torch sdpa|step": best_of(step, repeat, warmup=1),
             "layernorm": best_of(ln_step, repeat, warmup=1)}
    assert "tinydl" not in sys.modules
    report(times)


def speed(repeat, rounds):
    children = ["tinydl"]
    try:
        torch_version = metadata.version("torch")
        children.append("torch")
    except metadata.PackageNotFoundError:
        torch_version = "not installed"
    res = side_by_side(__file__, children, ["--repeat", str(repeat)], rounds=rounds)
    times = {**res.get("torch", {}), **res["tinydl"]}     # torch's row first, as before
    t_torch = times.get("torch sdpa|step")

    print(f"attention forward+backward, q/k/v ({B}, {H}, {L}, {E}) float32; torch {torch_version}; "
          f"each framework in its own process, best of {repeat} x {rounds} round(s)")
    print(environment_line())
    print(f"{'':18s} {'fwd ms':>9s} {'fwd+bwd ms':>11s} {'speed vs torch':>15s}")
    for key in times:
        name, part = key.split("|") if "|" in key else (key, "")
        if part != "fwd":
            continue
        tf, ts = times[key], times[f"{name}|step"]
        ratio = f"{t_torch / ts:.2f}x" if t_torch else "-"
        print(f"{name:18s} {tf * 1e3:9.2f} {ts * 1e3:11.2f} {ratio:>15s}")

    t_ours = res["tinydl"]["layernorm"]
    line = f"layer norm fwd+bwd {LN_SHAPE} float32: tinydl cpu {t_ours * 1e3:.2f} ms"
    if "torch" in res:
        t = res["torch"]["layernorm"]
        line += f", torch {t * 1e3:.2f} ms, speed vs torch {t / t_ours:.2f}x"
    print(line)


_CHILD = r"""
import json, sys, tracemalloc
import numpy as np
from tinydl import device, ops
version, L, E = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

rng = np.random.default_rng(0)
with device.use_version("attention", version, "cpu"):
    small = rng.standard_normal((1, 64, E)).astype(np.float32)
    ops.attention_forward(small, small, small)          # compile before measuring
    q, k, v = (rng.standard_normal((1, L, E)).astype(np.float32) for _ in range(3))
    # peak RSS first: the first large call of the process gets fresh pages from the OS
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                                    # reset the peak RSS (VmHWM)
    before = status("VmRSS:")
    out, cache = ops.attention_forward(q, k, v)
    rss = status("VmHWM:") - before
    del out, cache
    tracemalloc.start()
    ops.attention_forward(q, k, v)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
print(json.dumps({"traced": traced, "rss": rss}))
"""


def memory(lengths, E=64):
    from tinydl import device

    print(f"\npeak memory of one forward, B = 1, E = {E}, float32 (MiB; inputs not counted)")
    print(f"{'L = S':>6s} " + " ".join(f"{'v%d traced' % v:>10s} {'v%d RSS' % v:>7s}"
                                      for v in device.versions("attention", "cpu")))
    for L in lengths:
        cells = []
        for version in device.versions("attention", "cpu"):
            res = subprocess.run([sys.executable, "-c", _CHILD, str(version), str(L), str(E)],
                                 capture_output=True, text=True, check=True)
            m = json.loads(res.stdout.strip().splitlines()[-1])
            cells.append(f"{m['traced'] / 2**20:10.1f} {m['rss'] / 2**20:7.1f}")
        print(f"{L:6d} " + " ".join(cells))
    scores = lengths[-1] ** 2 * 4 / 2**20
    print(f"(one float32 L x S score matrix at L = {lengths[-1]}: {scores:.1f} MiB; "
          f"q, k, v, out: {4 * lengths[-1] * E * 4 / 2**20:.1f} MiB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of child processes")
    parser.add_argument("--repeat", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=["tinydl", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 15)
    if args.child:
        return (tinydl_child if args.child == "tinydl" else torch_child)(repeat)
    speed(repeat, 1 if args.quick else args.rounds)
    if not args.speed_only:
        memory([1024, 2048] if args.quick else [1024, 2048, 4096])


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
