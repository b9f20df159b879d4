"""Build-time shape checks shared by the image layers. tinydl is channels-first: an image batch
is (N, C, H, W), one sample (C, H, W).

Two rules, both on the shape of one sample (no batch axis):

    looks_channels_last(shape)   (a, b, c) with c in (1, 3) and a not: the shape of an (H, W, C)
                                 image more than a (C, H, W) one. Errors add the NCHW hint then.
    looks_hwc_square(shape)      (a, a, c) with c in (1, 3) and a not: a square image stored
                                 (H, W, C), e.g. (32, 32, 3) or (28, 28, 1). As (C, H, W) it would
                                 be a 32 x 3 image of 32 channels; the window would slide over
                                 the wrong axes. Conv2D and the pooling layers warn once on it
                                 (a warning, not an error: the shape is legal NCHW).

An output axis of length <= 0 can never be right, so every layer that computes one raises
(``check_output_shape``) at build time, before any kernel runs.
"""
import warnings

NCHW_HINT = ("tinydl is channels-first (NCHW): images are (N, C, H, W). Channels-last data "
             "(N, H, W, C) becomes NCHW with x.transpose(0, 3, 1, 2), and Input((H, W, C)) "
             "becomes Input((C, H, W)).")


def looks_channels_last(shape) -> bool:
    """(a, b, c) with the last axis 1 or 3 and the first not (see the module docstring)."""
    shape = tuple(shape)
    return len(shape) == 3 and shape[-1] in (1, 3) and shape[0] not in (1, 3)


def looks_hwc_square(shape) -> bool:
    """(a, a, c) with c in (1, 3) and a not: a square image in (H, W, C) order."""
    shape = tuple(shape)
    return looks_channels_last(shape) and shape[0] == shape[1]


def nchw_hint(input_shape) -> str:
    """The channels-first hint, prefixed by a diagnosis when ``input_shape`` looks channels-last."""
    shape = tuple(int(d) for d in input_shape)
    if looks_channels_last(shape):
        return f"The input shape {shape} looks channels-last (H, W, C). {NCHW_HINT}"
    return NCHW_HINT


def check_image_input(owner: str, input_shape) -> None:
    """Refuse a per-sample input that is not (C, H, W), with the channels-first hint."""
    if len(input_shape) != 3:
        raise ValueError(f"{owner}: expected input (C, H, W) per sample; received input_shape "
                         f"{tuple(input_shape)}. {nchw_hint(input_shape)}")


def check_output_shape(owner: str, input_shape, output_shape) -> tuple:
    """``output_shape`` as a tuple of ints, or ValueError when an axis would be <= 0."""
    out = tuple(int(d) for d in output_shape)
    if any(d <= 0 for d in out):
        shape = tuple(int(d) for d in input_shape)
        raise ValueError(f"{owner}: the output shape would be {(None,) + out} for an input of shape "
                         f"{(None,) + shape}: an axis of length <= 0. {nchw_hint(shape)}")
    return out


def warn_if_channels_last(input_shape) -> None:
    """A UserWarning when a (C, H, W) input looks like a square (H, W, C) image (the message
    names only the shape, so Python's default filter shows it once, not once per layer)."""
    shape = tuple(int(d) for d in input_shape)
    if looks_hwc_square(shape):
        warnings.warn(f"the input shape {shape} per sample looks like a square image "
                      f"stored channels-last (H, W, C); read as (C, H, W) the window slides over "
                      f"the wrong axes. {NCHW_HINT}", UserWarning, stacklevel=4)
