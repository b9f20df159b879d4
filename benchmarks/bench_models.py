"""The four training steps of issue 10, tinydl against PyTorch on the CPU: the headline table.

    python benchmarks/bench_models.py                 # all four, 3 rounds, compile times
    python benchmarks/bench_models.py --quick         # 1 round, few steps, no compile timing
    python benchmarks/bench_models.py --only small-cnn vit-tiny

Workloads (benchmarks/_twins.py: the zoo model and its PyTorch twin): small CNN (1, 28, 28) at
batch 64, the seed CNN at batch 128, ViT-tiny at batch 64, MLP 784-512-512-10 at batch 256. A
step is forward, softmax cross-entropy from logits, backward and Adam (lr 1e-3, eps 1e-7),
float32, on the same number of threads.

  step time   each framework in its own child process (benchmarks/_harness.py), the children
              alternating tinydl, torch, tinydl, torch, ... for --rounds rounds, so load from
              other processes falls on both alike; each child reports the median of --repeat
              steps after --warmup steps (compile and first-touch excluded), the table the
              median over the rounds.
  ratio       tinydl throughput / PyTorch's = torch step time / tinydl step time (>1: faster).
  columns     first with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (they force an old
              OpenBLAS kernel on some machines; PyTorch does not use OpenBLAS), then with this
              machine's environment as it is (measured only when it sets either variable).
  in-process  the small CNN timed by tinydl in a process that imported torch first and ran a few
              PyTorch steps (as a user comparing both in one script does), against tinydl's own
              separate-process figure; it should stay within 20%.
  peak RSS    ru_maxrss of each child (NumPy, Numba and BLAS allocations all count).
  compile     tinydl's first step in a child with an empty Numba cache (a fresh NUMBA_CACHE_DIR):
              what a user waits once; "warm" is the first step with the cache filled.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _twins  # noqa: E402
from _harness import OPENBLAS_VARS, median_of, openblas_cores, openblas_unset_environment, report  # noqa: E402


def _threads():
    import numba
    return numba.config.NUMBA_NUM_THREADS   # never numba.get_num_threads(): see _harness.py


def _with_versions(step, versions):
    """``step`` run under the kernel versions ``["conv2d=7", ...]`` (tinydl's defaults otherwise)."""
    if not versions:
        return step
    from contextlib import ExitStack

    from tinydl import device

    def run():
        with ExitStack() as stack:
            for item in versions:
                family, number = item.split("=")
                stack.enter_context(device.use_version(family, int(number), "cpu"))
            return step()
    return run


def child(kind, name, repeat, warmup, clock, versions=()):
    """In a subprocess: time one framework on one workload and report the median step."""
    x, y = _twins.batch(name)
    extra = {}
    if kind in ("torch", "inproc"):
        import torch
        torch.set_num_threads(_threads())
        torch_step = _twins.torch_step(name if kind == "torch" else "small-cnn", x, y)
        step = torch_step
        if kind == "inproc":
            for _ in range(3):
                torch_step()          # PyTorch's OpenMP pool started and warm, as in a user's script
    if kind in ("tinydl", "inproc"):
        import tinydl
        step = _with_versions(_twins.tinydl_step(name, x, y), versions)
        extra["threading"] = tinydl.THREADING
    if kind == "tinydl":
        assert "torch" not in sys.modules, "the tinydl child must not load PyTorch's OpenMP runtime"
    t = time.perf_counter()
    step()
    first = time.perf_counter() - t
    clock = time.process_time if clock == "cpu" else time.perf_counter
    med = median_of(step, repeat, warmup=max(warmup - 1, 0), clock=clock) if repeat else float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB -> MiB on Linux
    report({"step_s": med, "first_step_s": first, "peak_rss_mib": peak, "openblas": openblas_cores(), **extra})


def _run_child(kind, name, env, repeat, warmup, clock="wall", versions=()):
    cmd = [sys.executable, __file__, "--child", kind, "--workload", name, "--repeat", str(repeat),
           "--warmup", str(warmup), "--clock", clock] + (["--version", *versions] if versions else [])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"child {kind} {name} failed:\n{out.stderr[-3000:]}")
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[7:])


def measure(names, envs, rounds, repeat, warmup, inproc, clock, versions=()):
    """{(env, name, kind): [result per round]}, children alternating tinydl / torch."""
    results = {}
    for name in names:
        kinds = ["tinydl", "torch"] + (["inproc"] if inproc and name == "small-cnn" else [])
        for _ in range(rounds):
            for env_name, env in envs.items():
                for kind in kinds:
                    if kind == "inproc" and env_name != "unset":
                        continue
                    r = _run_child(kind, name, env, repeat, warmup, clock, versions)
                    results.setdefault((env_name, name, kind), []).append(r)
    return results


def cold_compile(name, env):
    """tinydl's first step with an empty Numba cache (seconds)."""
    with tempfile.TemporaryDirectory() as cache:
        return _run_child("tinydl", name, {**env, "NUMBA_CACHE_DIR": cache}, 0, 0)["first_step_s"]


def _median(results, key, metric):
    return statistics.median(r[metric] for r in results[key])


def _machine_setting():
    set_here = [f"{k}={os.environ[k]}" for k in OPENBLAS_VARS if k in os.environ]
    return ", ".join(set_here)


def print_table(names, results, envs, cold):
    cols = list(envs)
    titles = {"unset": "OPENBLAS_* unset", "machine": "machine's environment"}
    print(f"{'':<36}" + "".join(f"{titles[c]:>29}" for c in cols))
    head = f"{'workload':<36}" + f"{'tinydl ms':>11}{'torch ms':>10}{'ratio':>8}" * len(cols)
    head += f"{'peak RSS MiB td/torch':>23}{'first step s cold/warm':>24}"
    print(head)
    for name in names:
        row = f"{_twins.LABELS[name]:<36}"
        for env_name in cols:
            d = _median(results, (env_name, name, "tinydl"), "step_s")
            t = _median(results, (env_name, name, "torch"), "step_s")
            row += f"{d * 1e3:>11.2f}{t * 1e3:>10.2f}{t / d:>7.2f}x"
        rss_d = _median(results, ("unset", name, "tinydl"), "peak_rss_mib")
        rss_t = _median(results, ("unset", name, "torch"), "peak_rss_mib")
        warm = _median(results, ("unset", name, "tinydl"), "first_step_s")
        c = f"{cold[name]:.1f}" if name in cold else "-"
        row += f"{rss_d:>12.0f} / {rss_t:<8.0f}{c:>15} / {warm:<6.2f}"
        print(row)


def round_ratios(results, name, env_name="unset"):
    """The ratio of each round (its tinydl and PyTorch children ran back to back): the spread
    says how far this machine's noise moves one measurement."""
    pairs = zip(results[(env_name, name, "tinydl")], results[(env_name, name, "torch")], strict=True)
    return [t["step_s"] / d["step_s"] for d, t in pairs]


def print_spread(names, results):
    parts = []
    for name in names:
        r = round_ratios(results, name)
        parts.append(f"{name} {min(r):.2f}-{max(r):.2f}x")
    print("ratio per round (tinydl and PyTorch back to back), lowest-highest: " + ", ".join(parts))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=list(_twins.WORKLOADS), metavar="NAME",
                   help=f"workloads to run, of {list(_twins.WORKLOADS)}")
    p.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3, --quick 1)")
    p.add_argument("--repeat", type=int, default=None, help="timed steps per child (default 10, --quick 3)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per child (the first compiles)")
    p.add_argument("--quick", action="store_true", help="one round, few steps, no compile timing")
    p.add_argument("--no-cold", action="store_true", help="skip the empty-cache compile timing")
    p.add_argument("--no-inproc", action="store_true", help="skip the in-process (torch imported first) figure")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="cpu: each child's CPU time (use with NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "
                        "on a loaded machine; torch follows Numba's thread count)")
    p.add_argument("--version", nargs="+", default=[], metavar="FAMILY=N",
                   help="tinydl kernel versions to use instead of the defaults, e.g. conv2d=7 layernorm=1")
    p.add_argument("--child", choices=["tinydl", "torch", "inproc"], help=argparse.SUPPRESS)
    p.add_argument("--workload", choices=list(_twins.WORKLOADS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child, args.workload, args.repeat, args.warmup, args.clock, args.version)
    for item in args.version:
        family, _, number = item.partition("=")
        from tinydl import device
        try:
            known = device.versions(family, "cpu") if family.isidentifier() else []
        except ModuleNotFoundError:
            known = []
        if not number.isdigit() or int(number) not in known:
            p.error(f"--version {item!r}: expected FAMILY=N, a versioned CPU family and one of its "
                    f"versions {known}")
    rounds = args.rounds or (1 if args.quick else 3)
    repeat = args.repeat or (3 if args.quick else 10)
    warmup = 2 if args.quick else args.warmup
    names = args.only or list(_twins.WORKLOADS)
    machine = _machine_setting()
    envs = {"unset": openblas_unset_environment()}
    if machine:
        envs["machine"] = dict(os.environ)
    load0 = os.getloadavg()[0]
    print(f"training step (forward, loss, backward, Adam), float32, {_threads()} threads, {args.clock} clock; median of "
          f"{repeat} steps per child, median of {rounds} alternating round(s); load average {load0:.1f}")
    if args.version:
        print(f"tinydl kernel versions: {' '.join(args.version)} (defaults elsewhere)")
    print("ratio = tinydl throughput / PyTorch's (torch ms / tinydl ms); first columns: OPENBLAS_CORETYPE, "
          "OPENBLAS_L2_SIZE unset; " + (f"then this machine's environment ({machine})" if machine else
                                        "this machine sets neither, so there is no second column"))
    t0 = time.perf_counter()
    results = measure(names, envs, rounds, repeat, warmup, not args.no_inproc, args.clock, args.version)
    cold = {}
    if not (args.quick or args.no_cold):
        cold = {name: cold_compile(name, envs["unset"]) for name in names}
    print_table(names, results, envs, cold)
    print_spread(names, results)
    for env_name in envs:
        first = results[(env_name, names[0], "tinydl")][0]
        print(f"OpenBLAS kernels ({env_name}): {first['openblas']}")
    if ("unset", "small-cnn", "inproc") in results:
        sep = _median(results, ("unset", "small-cnn", "tinydl"), "step_s")
        inp = _median(results, ("unset", "small-cnn", "inproc"), "step_s")
        layer = results[("unset", "small-cnn", "inproc")][0].get("threading", "")
        print(f"small CNN in one process with torch imported first ({layer or 'tinydl threading'}): "
              f"{inp * 1e3:.2f} ms vs {sep * 1e3:.2f} ms in its own process ({sep / inp:.2f}x of its speed)")
    print(f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
          f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
