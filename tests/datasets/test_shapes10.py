"""shapes10: deterministic, balanced, CIFAR-shaped, and really drawing the shapes."""
import numpy as np
import pytest

from tinydl.datasets import shapes10


def test_shapes_and_dtypes():
    (x_train, y_train), (x_test, y_test) = shapes10.load_data(n_train=30, n_test=20, seed=0)
    assert x_train.shape == (30, 3, 32, 32) and x_train.dtype == np.uint8
    assert x_test.shape == (20, 3, 32, 32) and x_test.dtype == np.uint8
    assert y_train.shape == (30,) and y_train.dtype == np.int64
    assert y_test.shape == (20,) and y_test.dtype == np.int64
    assert set(np.unique(y_train)) <= set(range(10))


def test_same_seed_same_bytes_different_seed_different():
    a = shapes10.load_data(n_train=40, n_test=10, seed=3)
    b = shapes10.load_data(n_train=40, n_test=10, seed=3)
    c = shapes10.load_data(n_train=40, n_test=10, seed=4)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert xa.tobytes() == xb.tobytes() and ya.tobytes() == yb.tobytes()
    assert a[0][0].tobytes() != c[0][0].tobytes()
    assert a[1][0].tobytes() != c[1][0].tobytes()


def test_train_and_test_come_from_different_streams():
    (x_train, y_train), (x_test, y_test) = shapes10.load_data(n_train=20, n_test=20, seed=0)
    assert not np.array_equal(x_train, x_test)
    # no test image is a copy of a training image
    assert not (x_train[:, None] == x_test[None]).all(axis=(2, 3, 4)).any()


def test_balanced_classes():
    (_, y_train), (_, y_test) = shapes10.load_data(n_train=200, n_test=50, seed=1)
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [20] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [5] * 10)
    # not divisible: counts differ by at most one
    (_, y), _ = shapes10.load_data(n_train=95, n_test=0, seed=1)
    counts = np.bincount(y, minlength=10)
    assert counts.sum() == 95 and counts.max() - counts.min() == 1
    # and the labels are shuffled, not in class order
    assert not np.array_equal(y_train, np.sort(y_train))


def test_empty_split():
    (x, y), (xt, yt) = shapes10.load_data(n_train=0, n_test=3, seed=0)
    assert x.shape == (0, 3, 32, 32) and y.shape == (0,) and xt.shape == (3, 3, 32, 32)


def test_chunks_join_seamlessly(monkeypatch):
    """Images are composed in chunks: every chunk gets drawn (none left as np.empty garbage),
    a chunked run is deterministic, and the labels do not depend on the chunking."""
    monkeypatch.setattr(shapes10, "_CHUNK", 7)
    (x1, y1), _ = shapes10.load_data(n_train=23, n_test=0, seed=5)
    (x2, y2), _ = shapes10.load_data(n_train=23, n_test=0, seed=5)
    assert x1.tobytes() == x2.tobytes()
    monkeypatch.setattr(shapes10, "_CHUNK", 1024)
    (_, y_one), _ = shapes10.load_data(n_train=23, n_test=0, seed=5)
    np.testing.assert_array_equal(y1, y_one)
    # every image has a visible shape: some pixel far from the image's median colour
    spread = np.abs(x1.astype(int) - np.median(x1, axis=(2, 3), keepdims=True)).max(axis=(1, 2, 3))
    assert (spread > 60).all()


def test_masks_draw_each_class_shape():
    """The mask of each class drawn centred, unrotated, at radius 12: hand-worked areas."""
    n = 10
    full = lambda v: np.full(n, float(v))  # noqa: E731
    masks = shapes10._masks(np.arange(n), full(12), full(1), full(0), full(16), full(16))
    assert masks.shape == (n, 32, 32) and masks.dtype == np.float32
    assert masks.min() >= 0 and masks.max() <= 1
    area = dict(zip(shapes10.LABEL_NAMES, masks.sum(axis=(1, 2)), strict=True))
    m = dict(zip(shapes10.LABEL_NAMES, masks, strict=True))
    # a 48-gon of radius 0.95 * 12 covers about pi r^2
    assert abs(area["circle"] - np.pi * (0.95 * 12) ** 2) < 12
    # the ring: radius 12 with a hole of radius 0.55 * 12
    assert m["ring"][16, 16] == 0 and m["circle"][16, 16] == 1
    assert abs(area["ring"] - np.pi * 12 ** 2 * (1 - 0.55 ** 2)) < 12
    # the square: side 1.6 r = 19.2 px; the diamond: diagonals 2.2 r and 1.1 r
    assert abs(area["square"] - 19.2 ** 2) < 12
    assert abs(area["diamond"] - 2.2 * 12 * 1.1 * 12 / 2) < 12
    # the hexagon: 3 sqrt(3) / 2 r^2 with r = 0.95 * 12
    assert abs(area["hexagon"] - 1.5 * np.sqrt(3) * (0.95 * 12) ** 2) < 12
    # the bar is long along x and thin along y
    assert m["bar"][16].sum() > 2.5 * m["bar"][:, 16].sum()
    # the arrow points right: just past the head's base (x = 16 + 0.15 r) it is 3x the shaft's width
    assert m["arrow"][:, 19].sum() > 2.5 * m["arrow"][:, 8].sum()
    # every class draws a distinct mask
    flat = masks.reshape(n, -1)
    assert min(np.abs(flat[i] - flat[j]).sum() for i in range(n) for j in range(i)) > 10


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_train=-1), "n_train must be an int >= 0. Received: n_train=-1"),
    (dict(n_test=2.5), "n_test must be an int >= 0. Received: n_test=2.5"),
    (dict(seed=-3), "seed must be an int >= 0. Received: seed=-3"),
    (dict(n_train=True), "n_train must be an int >= 0. Received: n_train=True"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        shapes10.load_data(**kwargs)


def test_label_names():
    assert shapes10.label_names() == list(shapes10.LABEL_NAMES)
    assert len(set(shapes10.LABEL_NAMES)) == 10
