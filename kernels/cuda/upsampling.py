"""Nearest-neighbour 2-D upsampling on the GPU (numba.cuda). One implementation, so no VERSIONS.

    forward   one thread per output element: out[n, c, i, j] = x[n, c, i // sh, j // sw];
              neighbouring threads write neighbouring outputs (coalesced)
    backward  one thread per input element: GATHER the sum of its sh x sw block of dout, so no
              two threads write the same place and no atomics are needed
"""
from numba import cuda, float64

from tinydl.kernels.cuda._launch import TPB, blocks, empty, on_device


@cuda.jit
def _up_fwd(x, sh, sw, out):
    k = cuda.grid(1)
    if k < out.size:
        N, C, OH, OW = out.shape
        nc, ij = k // (OH * OW), k % (OH * OW)
        i, j = ij // OW, ij % OW
        out[nc // C, nc % C, i, j] = x[nc // C, nc % C, i // sh, j // sw]


@cuda.jit
def _up_bwd(dout, sh, sw, dx):
    k = cuda.grid(1)
    if k < dx.size:
        N, C, H, W = dx.shape
        nc, hw = k // (H * W), k % (H * W)
        n, c, h, w = nc // C, nc % C, hw // W, hw % W
        acc = 0.0
        for p in range(sh):
            for q in range(sw):
                acc += float64(dout[n, c, h * sh + p, w * sw + q])
        dx[n, c, h, w] = acc


def upsample2d_forward(x, size):
    # x (N, C, H, W) -> out (N, C, H*sh, W*sw)
    x = on_device(x)
    sh, sw = size
    N, C, H, W = x.shape
    out = empty((N, C, H * sh, W * sw), x.dtype)
    if out.size:
        _up_fwd[blocks(out.size), TPB](x, sh, sw, out)
    return out, size


def upsample2d_backward(dout, cache):
    # dout (N, C, H*sh, W*sw) -> dx (N, C, H, W)
    sh, sw = cache
    dout = on_device(dout)
    N, C, OH, OW = dout.shape
    dx = empty((N, C, OH // sh, OW // sw), dout.dtype)
    if dx.size:
        _up_bwd[blocks(dx.size), TPB](dout, sh, sw, dx)
    return dx
