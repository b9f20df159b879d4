"""Rescale, plain NumPy: the ground truth of kernels/cpu/rescale.py and kernels/cuda/rescale.py.

    forward    y = x * scale + offset          (pixels 0..255 -> [0, 1] with scale = 1/255)
    backward   dx = dout * scale               (the offset has no input gradient)

One implementation per device, so no VERSIONS table.
"""


def rescale_forward(x, scale, offset):
    # x (...) -> y (...), same dtype; scale and offset are Python floats; the cache is scale
    t = x.dtype.type
    return x * t(scale) + t(offset), scale


def rescale_backward(dout, scale):
    # dout (...), the forward's cache (scale) -> dx (...)
    return dout * dout.dtype.type(scale)
