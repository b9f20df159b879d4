"""The CUDA kernel ladders, timed on a real GPU, side by side with PyTorch on the same GPU.

    python benchmarks/bench_cuda.py                  # every family, every version, float32
    python benchmarks/bench_cuda.py --repeat 50 --only dense conv2d

Without a GPU (or under Numba's simulator, whose timings mean nothing) it prints
"no GPU: skipped" and exits 0; --smoke runs tiny shapes anywhere, the simulator included, to
check the script itself (its times mean nothing). Each row is one op (forward + backward) at one version: the best
of --repeat runs after a warm-up that compiles the kernel, with cuda.synchronize() around each
run, so the time is the GPU's. When PyTorch sees the same GPU, the same work runs through
torch (autograd forward + backward) in the same process and the ratio columns say
tinydl / torch (time; lower is better) and torch / tinydl (throughput). GEMM rows also give
GFLOP/s. Numbers go into docs/kernels.md (CUDA) and the lesson plans of kernels/cuda/*.py.
"""
import argparse
import os
import sys
import time
from functools import partial

import numpy as np


def _gpu():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return None
    try:
        from numba import cuda
        if not cuda.is_available():
            return None
        return cuda
    except Exception:
        return None


def _best(fn, sync, repeat):
    fn()
    sync()                                   # warm-up: compiles the kernels
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t)
    return best


def _torch_cuda():
    try:
        import torch
        return torch if torch.cuda.is_available() else None
    except ImportError:
        return None


FULL = dict(dense=(256, 784, 512), conv=(32, 64, 16, 128), softmax=(512, 1000), layernorm=(1024, 768),
            batchnorm=(64, 64, 32), attention=(32, 256, 64))
SMOKE = dict(dense=(5, 7, 9), conv=(2, 3, 5, 4), softmax=(3, 11), layernorm=(3, 9),
             batchnorm=(2, 3, 4), attention=(2, 5, 3))


def _cases(rng, dtype, size):
    """(family, label, run(kernel module) -> None, torch step or None, flops)."""
    from tinydl.kernels.cuda._launch import on_device

    def arr(*shape):
        return on_device(rng.standard_normal(shape).astype(dtype))

    torch = _torch_cuda()

    def t(a):
        return torch.tensor(a.copy_to_host(), device="cuda", requires_grad=True)

    cases = []
    # dense: the seed MLP's layer
    M, K, N = size["dense"]
    x, w, b, d = arr(M, K), arr(K, N), arr(N), arr(M, N)

    def dense(m):
        _, cache = m.dense_forward(x, w, b)
        m.dense_backward(d, cache)
    tdense = None
    if torch:
        tx, tw, tb, td_ = t(x), t(w), t(b), torch.tensor(d.copy_to_host(), device="cuda")
        def tdense():
            (tx @ tw + tb).backward(td_)
    cases.append(("dense", f"({M}, {K}) x ({K}, {N})", dense, tdense, 3 * 2 * M * K * N))

    # conv2d: the reference CNN's second block, batch 32
    n, c, hw, f = size["conv"]
    cx, cw, cb, cd = arr(n, c, hw, hw), arr(f, c, 3, 3), arr(f), arr(n, f, hw, hw)

    def conv(m):
        _, cache = m.conv2d_forward(cx, cw, cb, (1, 1), (1, 1, 1, 1))
        m.conv2d_backward(cd, cache)
    tconv = None
    if torch:
        tcx, tcw, tcb, tcd = t(cx), t(cw), t(cb), torch.tensor(cd.copy_to_host(), device="cuda")
        def tconv():
            torch.nn.functional.conv2d(tcx, tcw, tcb, padding=1).backward(tcd)
    cases.append(("conv2d", f"({n}, {c}, {hw}, {hw}) * ({f}, {c}, 3, 3)", conv, tconv,
                  3 * 2 * n * f * hw * hw * c * 9))

    # softmax over 1000 classes, layer norm over 768 features, batch norm of 64 channels
    rows, cls = size["softmax"]
    s, sd = arr(rows, cls), arr(rows, cls)

    def softmax(m):
        _, cache = m.softmax_forward(s, -1)
        m.softmax_backward(sd, cache)
    tsoft = None
    if torch:
        ts, tsd = t(s), torch.tensor(sd.copy_to_host(), device="cuda")
        def tsoft():
            torch.softmax(ts, -1).backward(tsd)
    cases.append(("activations", f"softmax ({rows}, {cls})", softmax, tsoft, 0))

    R, E = size["layernorm"]
    lx, lg, lb, ld = arr(R, E), arr(E), arr(E), arr(R, E)

    def layernorm(m):
        _, cache = m.layernorm_forward(lx, lg, lb, 1e-3)
        m.layernorm_backward(ld, cache)
    tln = None
    if torch:
        tlx, tlg, tlb, tld = t(lx), t(lg), t(lb), torch.tensor(ld.copy_to_host(), device="cuda")
        def tln():
            torch.nn.functional.layer_norm(tlx, (E,), tlg, tlb, 1e-3).backward(tld)
    cases.append(("layernorm", f"({R}, {E})", layernorm, tln, 0))

    bn, bc, bhw = size["batchnorm"]
    bx, bd = arr(bn, bc, bhw, bhw), arr(bn, bc, bhw, bhw)
    bg, bb, bm, bv = arr(bc), arr(bc), arr(bc), on_device(np.ones(bc, dtype=dtype))

    def batchnorm(m):
        _, cache = m.batchnorm_forward(bx, bg, bb, bm, bv, 0.99, 1e-3, True)
        m.batchnorm_backward(bd, cache)
    tbn = None
    if torch:
        tbx, tbg, tbb = t(bx), t(bg), t(bb)
        tbd = torch.tensor(bd.copy_to_host(), device="cuda")
        def tbn():
            torch.nn.functional.batch_norm(tbx, None, None, tbg, tbb, training=True, eps=1e-3).backward(tbd)
    cases.append(("batchnorm", f"({bn}, {bc}, {bhw}, {bhw})", batchnorm, tbn, 0))

    # attention: batch 8 x 4 heads, L = S = 256, head size 64
    B, L, D = size["attention"]
    q, k, v, ad = arr(B, L, D), arr(B, L, D), arr(B, L, D), arr(B, L, D)

    def attention(m):
        _, cache = m.attention_forward(q, k, v, None, None, 0.0, False, 0.125, 0)
        m.attention_backward(ad, cache)
    tatt = None
    if torch:
        tq, tk, tv = t(q), t(k), t(v)
        tad = torch.tensor(ad.copy_to_host(), device="cuda")
        def tatt():
            torch.nn.functional.scaled_dot_product_attention(tq, tk, tv).backward(tad)
    cases.append(("attention", f"({B}, {L}, {D}), L = S = {L}", attention, tatt, 0))
    return cases


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--only", nargs="*", help="families to run (default: all)")
    parser.add_argument("--smoke", action="store_true", help="tiny shapes, any machine: checks the script only")
    args = parser.parse_args(argv)
    cuda = _gpu()
    if cuda is None and not args.smoke:
        print("no GPU: skipped")
        return 0
    from numba import cuda

    from tinydl import device
    from tinydl.kernels import _versions
    torch = _torch_cuda()
    rng = np.random.default_rng(0)
    if args.smoke:
        name = "smoke run (tiny shapes; the times mean nothing)"
    else:
        name = cuda.get_current_device().name
        name = name.decode() if isinstance(name, bytes) else name
    print(f"GPU: {name}; torch {'on the same GPU' if torch else 'not available on the GPU'}; "
          f"float32, best of {args.repeat}")
    print(f"{'op':<46}{'version':>8}{'ms':>10}{'GFLOP/s':>10}{'torch ms':>10}{'ratio':>8}{'thru':>8}")
    for family, label, run, tstep, flops in _cases(rng, np.float32, SMOKE if args.smoke else FULL):
        if args.only and family not in args.only:
            continue
        module = device.backend(family, "cuda")
        tms = _best(tstep, torch.cuda.synchronize, args.repeat) * 1e3 if tstep else None
        for v in sorted(getattr(module, "VERSIONS", {None: None})):
            ctx = _versions.use(f"cuda.{family}", v) if v is not None else _null()
            with ctx:
                ms = _best(partial(run, module), cuda.synchronize, args.repeat) * 1e3
            gf = f"{flops / ms / 1e6:10.1f}" if flops else f"{'':>10}"
            tcol = f"{tms:10.3f}{ms / tms:8.2f}{tms / ms:8.2f}" if tms else f"{'':>26}"
            print(f"{family + ' ' + label:<46}{'v' + str(v) if v else '-':>8}{ms:10.3f}{gf}{tcol}")
    return 0


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    sys.exit(main())
