"""The DataLoader's batch kernel: gather, random crop, horizontal flip, scale and normalize, in one
pass over the batch (Numba), writing a fresh float32 NCHW batch.

    for b in batch:                         # one image per b, x[idx[b]]
        for c, h, w:
            # random crop of the image zero-padded by `pad` on every side, then a mirror in w:
            #   padded (H + 2 pad, W + 2 pad), window at (dy[b], dx[b]) in [0, 2 pad]
            sh = h + dy[b] - pad
            sw = (W - 1 - w if flip[b] else w) + dx[b] - pad
            v  = x[idx[b], c, sh, sw] if (sh, sw) inside the image else 0
            out[b, c, h, w] = (v * scale - mean[c]) * inv_std[c]

With pad = 0 and no flips it is the plain gather + rescale of an unaugmented batch, so every batch
goes through this one kernel. The padding is zero in the raw pixel values, before normalization,
as torchvision's RandomCrop(32, padding=4) followed by Normalize does it.

It runs serially: a CIFAR batch is ~400k output values (~1 ms here), far less than a training
step, and a prange would add thread start-up to every batch and take cores from the model's
kernels. The caller (loader.DataLoader) has checked everything: idx inside [0, N), dy and dx
inside [0, 2 pad], out of shape (len(idx), C, H, W) float32, mean and inv_std of length C.
"""
from numba import njit

import tinydl.kernels.cpu  # noqa: F401  (installs the fallback for a cache folder that is not writable)


@njit(cache=True)
def gather_crop_flip(x, idx, dy, dx, flip, pad, scale, mean, inv_std, out):
    # x (N, C, H, W) any real dtype, idx (B,) int64, dy dx (B,) int64, flip (B,) bool,
    # mean inv_std (C,) float64, out (B, C, H, W) float32
    B = idx.shape[0]
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    for b in range(B):
        n = idx[b]
        for c in range(C):
            m, s = mean[c], inv_std[c]
            fill = (0.0 - m) * s  # a padded (zero) pixel after normalization
            for h in range(H):
                sh = h + dy[b] - pad
                if sh < 0 or sh >= H:
                    for w in range(W):
                        out[b, c, h, w] = fill
                    continue
                for w in range(W):
                    sw = (W - 1 - w if flip[b] else w) + dx[b] - pad
                    if sw < 0 or sw >= W:
                        out[b, c, h, w] = fill
                    else:
                        out[b, c, h, w] = (x[n, c, sh, sw] * scale - m) * s
    return out
