"""Attention on the CPU: every kernel version side by side with PyTorch, and peak memory.

    python benchmarks/bench_attention.py            # speed table + memory table
    python benchmarks/bench_attention.py --quick    # fewer repeats, smaller memory sizes
    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_attention.py --speed-only
                                                    # one thread each (torch follows Numba's count)

Speed: forward + backward of scaled dot-product attention at batch 8, 4 heads, L = S = 256,
head size 64, float32, against torch.nn.functional.scaled_dot_product_attention on the same
number of threads, measured in the same run (best of N; ratio = torch time / tinydl time, so
1.0 means as fast as PyTorch and 0.7 means 70% of its speed).

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
import time

import numpy as np


def _best(fn, repeat):
    fn()  # warm up (and compile)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def speed(repeat):
    import numba
    from tinydl import device, ops

    B, H, L, S, E = 8, 4, 256, 256, 64
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((B, H, n, E)).astype(np.float32) for n in (L, S, S))
    dout = rng.standard_normal((B, H, L, E)).astype(np.float32)
    rows = []

    try:
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(numba.get_num_threads())
        tq, tk, tv = (torch.from_numpy(a.copy()).requires_grad_() for a in (q, k, v))
        tdout = torch.from_numpy(dout)

        def torch_fwd():
            with torch.no_grad():
                F.scaled_dot_product_attention(tq, tk, tv)

        def torch_step():
            o = F.scaled_dot_product_attention(tq, tk, tv)
            o.backward(tdout)

        t_torch = (_best(torch_fwd, repeat), _best(torch_step, repeat))
        rows.append(("torch sdpa", *t_torch))
    except ImportError:
        t_torch = None

    for version in device.versions("attention", "cpu"):
        with device.use_version("attention", version, "cpu"):
            def fwd():
                ops.attention_forward(q, k, v)

            def step():
                out, cache = ops.attention_forward(q, k, v)
                ops.attention_backward(dout, cache)

            rows.append((f"tinydl cpu v{version}", _best(fwd, repeat), _best(step, repeat)))

    print(f"attention forward+backward, q/k/v ({B}, {H}, {L}, {E}) float32, "
          f"{numba.get_num_threads()} threads")
    print(f"{'':18s} {'fwd ms':>9s} {'fwd+bwd ms':>11s} {'speed vs torch':>15s}")
    for name, tf, ts in rows:
        ratio = f"{t_torch[1] / ts:.2f}x" if t_torch else "-"
        print(f"{name:18s} {tf * 1e3:9.2f} {ts * 1e3:11.2f} {ratio:>15s}")


def layernorm_speed(repeat):
    """Layer norm forward + backward at a ViT block's shape: (128, 65, 64) float32."""
    import numba
    from tinydl import ops

    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 65, 64)).astype(np.float32)
    g, b = np.ones(64, np.float32), np.zeros(64, np.float32)
    dout = rng.standard_normal(x.shape).astype(np.float32)

    def step():
        out, cache = ops.layernorm_forward(x, g, b)
        ops.layernorm_backward(dout, cache)

    t_ours = _best(step, repeat)
    line = f"layer norm fwd+bwd (128, 65, 64) float32: tinydl cpu {t_ours * 1e3:.2f} ms"
    try:
        import torch
        torch.set_num_threads(numba.get_num_threads())
        tx = torch.from_numpy(x.copy()).requires_grad_()
        tg, tb = torch.ones(64, requires_grad=True), torch.zeros(64, requires_grad=True)
        tdout = torch.from_numpy(dout)

        def torch_step():
            torch.nn.functional.layer_norm(tx, (64,), tg, tb, eps=1e-3).backward(tdout)

        t_torch = _best(torch_step, repeat)
        line += f", torch {t_torch * 1e3:.2f} ms, speed vs torch {t_torch / t_ours:.2f}x"
    except ImportError:
        pass
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
    args = parser.parse_args()
    speed(repeat=3 if args.quick else 15)
    layernorm_speed(repeat=3 if args.quick else 15)
    if not args.speed_only:
        memory([1024, 2048] if args.quick else [1024, 2048, 4096])


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
