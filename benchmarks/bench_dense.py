"""Dense forward + backward on the CPU: every kernel version side by side with PyTorch.

    python benchmarks/bench_dense.py               # (256, 784) x (784, 512), float32
    python benchmarks/bench_dense.py --repeat 50 --batch 256 --features 784 --units 512

One step is y = x @ w + b and the backward dx, dw, db (three GEMMs and a column sum), on
(batch, features) x (features, units) float32 arrays. PyTorch runs the same work on the same
number of threads (torch.set_num_threads(numba.get_num_threads())) in the same process: an
autograd step through torch.nn.functional.linear, and the same three products written by hand
(addmm, mm, mm, sum) so the comparison is GEMM for GEMM. Each time is the best of --repeat runs
after a warm-up that also compiles the Numba kernels; the implementations take turns in three
rounds so that load from other processes falls on each alike. The ratio columns are tinydl time / torch
time (lower is better, 1.0 = as fast as PyTorch) and torch time / tinydl time (throughput),
against the faster of the two PyTorch variants.
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set in this environment and can slow NumPy's BLAS; the
numbers quoted in docs/kernels.md say whether they were set.

OMP_WAIT_POLICY: Numba's OpenMP workers spin after each parallel region by default, and an
OpenBLAS call right after one then shares the two cores with a spinning thread: the GEMM ran
2-40x slower in our measurements. This script sets OMP_WAIT_POLICY=PASSIVE before anything
loads OpenMP (run it with OMP_WAIT_POLICY= to see the default behaviour); the header says which.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # before numba/torch load an OpenMP runtime

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np


def _best(fns, repeats, rounds=3):
    """Best time of each function. Each round runs every implementation in a block of its own
    (a warm-up call, then its share of the repeats back to back, so one library's idle threads
    do not disturb the next one's timings); the rounds repeat the sequence so that load from
    other processes falls on every implementation alike."""
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            fn()              # warm up (and compile, the first time)
            for _ in range(max(1, repeats[name] // rounds)):
                t = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--units", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--naive-repeat", type=int, default=3, help="repeats for the slow v1")
    args = parser.parse_args(argv)

    import numba
    from tinydl import device, ops

    n, k, u = args.batch, args.features, args.units
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, k)).astype(np.float32)
    w = (rng.standard_normal((k, u)) * 0.05).astype(np.float32)
    b = rng.standard_normal(u).astype(np.float32)
    dout = rng.standard_normal((n, u)).astype(np.float32)
    threads = numba.get_num_threads()

    def tinydl_step(dev, version=None):
        def step():
            with device.using(dev):
                if version is None:
                    out, cache = ops.dense_forward(x, w, b)
                    ops.dense_backward(dout, cache)
                    return
                with device.use_version("dense", version, dev):
                    out, cache = ops.dense_forward(x, w, b)
                    ops.dense_backward(dout, cache)
        return step

    fns, repeats = {}, {}
    for v in device.versions("dense", "cpu"):
        fns[f"tinydl cpu v{v}"] = tinydl_step("cpu", v)
        repeats[f"tinydl cpu v{v}"] = args.naive_repeat if v == 1 else args.repeat
    fns["tinydl reference (NumPy)"] = tinydl_step("reference")
    repeats["tinydl reference (NumPy)"] = args.repeat

    torch_version, torch_name = "not installed", None
    try:
        import torch
        torch.set_num_threads(threads)
        torch_version = torch.__version__
        tx, tw, tb = (torch.from_numpy(a.copy()) for a in (x, w, b))
        twt = torch.from_numpy(np.ascontiguousarray(w.T))      # nn.Linear's (units, in) layout
        tdout = torch.from_numpy(dout)
        txg, twg, tbg = (a.clone().requires_grad_() for a in (tx, twt, tb))

        def torch_autograd():
            out = torch.nn.functional.linear(txg, twg, tbg)
            out.backward(tdout)
            txg.grad = twg.grad = tbg.grad = None

        def torch_by_hand():
            with torch.no_grad():
                torch.addmm(tb, tx, tw)
                tdout.mm(tw.T)
                tx.T.mm(tdout)
                tdout.sum(0)

        torch_name = "torch (addmm, mm, mm, sum)"
        fns[torch_name], repeats[torch_name] = torch_by_hand, args.repeat
        fns["torch autograd F.linear"], repeats["torch autograd F.linear"] = torch_autograd, args.repeat
    except ImportError:
        pass

    best = _best(fns, repeats)
    torch_times = [t for name, t in best.items() if name.startswith("torch")]
    torch_time = min(torch_times) if torch_times else None     # the faster PyTorch variant
    rows = list(best.items())

    env = {key: os.environ.get(key) for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_WAIT_POLICY")}
    print(f"Dense forward + backward, x ({n}, {k}) float32, w ({k}, {u}), {threads} threads; "
          f"torch {torch_version}")
    print("; ".join(f"{k_}={v_!r}" for k_, v_ in env.items()))
    print(f"{'implementation':<30} {'ms':>9} {'/ torch':>9} {'throughput':>11}")
    for name, t in rows:
        ratio = f"{t / torch_time:9.2f}" if torch_time else f"{'-':>9}"
        through = f"{torch_time / t:10.2f}x" if torch_time else f"{'-':>11}"
        print(f"{name:<30} {t * 1e3:9.3f} {ratio} {through}")


if __name__ == "__main__":
    main()
