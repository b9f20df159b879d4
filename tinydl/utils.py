"""Keras's small data helpers: ``to_categorical`` (class indices to one-hot rows) and
``load_img`` (an image file as a (C, H, W) float32 array in [0, 1], tinydl's NCHW layout)."""
import numpy as np

from tinydl._validate import positive_int

__all__ = ["to_categorical", "load_img"]


def to_categorical(y, num_classes=None):
    """One-hot float32 rows: y (N,) or (N, 1) (or any shape) of class indices -> y.shape + (C,)
    (a trailing axis of 1 is dropped first, as in Keras). Integral floats count as indices.
    ``num_classes`` defaults to max(y) + 1."""
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.floor(y)):
            raise ValueError("to_categorical: y must hold integer class indices; received a "
                             "non-integral float")
    elif y.dtype.kind not in "iub":
        raise TypeError(f"to_categorical: y must hold integer class indices; received dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y[..., 0]
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: class indices must be >= 0; received {int(y.min())}")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
        if num_classes == 0:
            raise ValueError("to_categorical: num_classes is needed for an empty y")
    num_classes = positive_int(num_classes, "num_classes", "to_categorical")
    if y.size and y.max() >= num_classes:
        raise ValueError(f"to_categorical: class indices must be < num_classes={num_classes}; "
                         f"received {int(y.max())}")
    out = np.zeros(y.shape + (num_classes,), dtype=np.float32)
    np.put_along_axis(out, y[..., None], 1.0, axis=-1)
    return out


_MODES = {"rgb": "RGB", "grayscale": "L", "rgba": "RGBA"}


def load_img(path, target_size=None, color_mode="rgb", interpolation="nearest"):
    """The image at ``path`` as float32 (C, H, W) in [0, 1]: C = 3 (rgb), 1 (grayscale) or
    4 (rgba). ``target_size=(height, width)`` resizes with ``interpolation`` ("nearest",
    "bilinear", "bicubic", "lanczos", "box", "hamming"), Keras's names and default."""
    from PIL import Image

    if color_mode not in _MODES:
        raise ValueError(f"load_img: color_mode must be one of {sorted(_MODES)}. Received: color_mode={color_mode!r}")
    resample = getattr(Image.Resampling, str(interpolation).upper(), None)
    if resample is None:
        raise ValueError("load_img: interpolation must be nearest, bilinear, bicubic, lanczos, box or "
                         f"hamming. Received: interpolation={interpolation!r}")
    if target_size is not None:
        if len(tuple(target_size)) != 2:
            raise ValueError(f"load_img: target_size must be (height, width). Received: target_size={target_size!r}")
        h, w = (positive_int(v, "target_size", "load_img") for v in target_size)
    with Image.open(path) as image:
        image = image.convert(_MODES[color_mode])
        if target_size is not None and image.size != (w, h):
            image = image.resize((w, h), resample)
        a = np.asarray(image, dtype=np.float32) / 255.0
    a = a[:, :, None] if a.ndim == 2 else a          # (H, W, C)
    return np.ascontiguousarray(a.transpose(2, 0, 1))
