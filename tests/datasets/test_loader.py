"""DataLoader: coverage, shuffling, drop_last, scaling, normalization, and real crops and flips."""
import numpy as np
import pytest

import tinydl as td
from tinydl.datasets import DataLoader, cifar10
from tinydl.datasets.loader import CROP_PADDING


def images(n=103, c=3, h=8, w=8, seed=0):
    """Random uint8 images: every crop/flip of one is distinguishable from every other."""
    return np.random.default_rng(seed).integers(0, 256, (n, c, h, w), dtype=np.uint8)


def epoch(loader):
    xs, ys = zip(*loader, strict=True)
    return list(xs), list(ys)


def test_each_sample_once_per_epoch_and_len():
    x = images()
    loader = DataLoader(x, np.arange(103), batch_size=10, seed=0)
    assert len(loader) == 11
    xs, ys = epoch(loader)
    assert [len(y) for y in ys] == [10] * 10 + [3]
    np.testing.assert_array_equal(np.sort(np.concatenate(ys)), np.arange(103))
    for xb, yb in zip(xs, ys, strict=True):  # each x row belongs with its y
        assert xb.dtype == np.float32 and yb.dtype == np.int64
        assert xb.shape == (len(yb), 3, 8, 8)
        np.testing.assert_array_equal(xb, x[yb].astype(np.float32))     # no scaling by dtype


def test_drop_last():
    loader = DataLoader(images(), np.arange(103), batch_size=10, drop_last=True, seed=0)
    assert len(loader) == 10
    _, ys = epoch(loader)
    assert [len(y) for y in ys] == [10] * 10
    assert len(np.unique(np.concatenate(ys))) == 100
    assert len(DataLoader(images(5), np.arange(5), batch_size=10, drop_last=True)) == 0
    assert len(DataLoader(images(5), np.arange(5), batch_size=10)) == 1


def test_new_order_each_epoch_reproducible_from_the_seed():
    y = np.arange(103)
    a = DataLoader(images(), y, batch_size=16, seed=7)
    b = DataLoader(images(), y, batch_size=16, seed=7)
    a1, a2 = np.concatenate(epoch(a)[1]), np.concatenate(epoch(a)[1])
    b1, b2 = np.concatenate(epoch(b)[1]), np.concatenate(epoch(b)[1])
    assert not np.array_equal(a1, a2)            # a new permutation each epoch
    assert not np.array_equal(a1, y)             # shuffled
    np.testing.assert_array_equal(a1, b1)        # same seed: same sequence of epochs
    np.testing.assert_array_equal(a2, b2)
    c1 = np.concatenate(epoch(DataLoader(images(), y, batch_size=16, seed=8))[1])
    assert not np.array_equal(a1, c1)


def test_seed_none_follows_tinydl_set_seed():
    y = np.arange(50)
    td.set_seed(11)
    first = np.concatenate(epoch(DataLoader(images(50), y, batch_size=8))[1])
    td.set_seed(11)
    again = np.concatenate(epoch(DataLoader(images(50), y, batch_size=8))[1])
    np.testing.assert_array_equal(first, again)


def test_no_shuffle_keeps_the_order():
    x = images(20)
    xs, ys = epoch(DataLoader(x, np.arange(20), batch_size=6, shuffle=False))
    np.testing.assert_array_equal(np.concatenate(ys), np.arange(20))
    np.testing.assert_array_equal(np.concatenate(xs), x.astype(np.float32))


def test_unit_normalization_divides_by_255_whatever_the_dtype():
    x = images(6, h=3, w=3)
    for given in (x, x.astype(np.float64), x.astype(np.int32)):
        xb, _ = next(iter(DataLoader(given, np.arange(6), batch_size=6, shuffle=False, normalize="unit")))
        np.testing.assert_array_equal(xb, x / np.float32(255))
    hand = np.array([0, 51, 255], np.uint8).reshape(3, 1)
    xb, _ = next(iter(DataLoader(hand, np.arange(3), batch_size=3, shuffle=False, normalize="unit")))
    np.testing.assert_allclose(xb.ravel(), [0.0, 0.2, 1.0], rtol=1e-7)


def test_loader_and_plain_arrays_give_the_model_the_same_numbers():
    """The one rule: fit(x_uint8) and fit(DataLoader(x_uint8)) feed the same values."""
    x = images(8, h=4, w=4)
    model = td.Sequential([td.layers.Input((3, 4, 4)), td.layers.Flatten()])
    xb, yb = next(iter(DataLoader(x, np.arange(8), batch_size=8, shuffle=False)))
    np.testing.assert_array_equal(model.predict(x), model.predict(xb))
    np.testing.assert_array_equal(model.predict(x), x.reshape(8, -1).astype(np.float32))


def test_cifar10_normalization_values():
    x = images(12, h=5, w=6)
    xb, yb = next(iter(DataLoader(x, np.arange(12), batch_size=12, normalize="cifar10", shuffle=False)))
    mean = np.array([0.4914, 0.4822, 0.4465]).reshape(1, 3, 1, 1)
    std = np.array([0.2470, 0.2435, 0.2616]).reshape(1, 3, 1, 1)  # not the often-copied 0.2023, ...
    np.testing.assert_allclose(xb, (x / 255.0 - mean) / std, rtol=1e-6, atol=1e-6)
    # hand-worked: a pixel of 255 in the red channel maps to (1 - 0.4914) / 0.2470
    x0 = np.zeros((1, 3, 2, 2), np.uint8)
    x0[0, 0, 1, 1] = 255
    out, _ = next(iter(DataLoader(x0, [0], batch_size=1, normalize="cifar10")))
    assert out[0, 0, 1, 1] == pytest.approx(2.0591093, rel=1e-6)
    assert out[0, 2, 0, 0] == pytest.approx(-0.4465 / 0.2616, rel=1e-6)
    assert cifar10.STD == (0.2470, 0.2435, 0.2616)


def test_float_images_are_not_rescaled_and_cifar10_takes_pixel_values():
    x = np.random.default_rng(0).random((9, 3, 4, 4)).astype(np.float64) * 255
    xb, _ = next(iter(DataLoader(x, np.arange(9), batch_size=9, shuffle=False)))
    assert xb.dtype == np.float32
    np.testing.assert_array_equal(xb, x.astype(np.float32))
    xb, _ = next(iter(DataLoader(x, np.arange(9), batch_size=9, shuffle=False, normalize="cifar10")))
    mean = np.array(cifar10.MEAN).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(xb, (x / 255 - mean) / np.array(cifar10.STD).reshape(1, 3, 1, 1),
                               rtol=1e-5, atol=1e-5)


def test_half_precision_images():
    x = np.random.default_rng(0).random((4, 3, 3, 3)).astype(np.float16)
    xb, _ = next(iter(DataLoader(x, np.arange(4), batch_size=4, shuffle=False)))
    np.testing.assert_array_equal(xb, x.astype(np.float32))


def test_flat_features_and_float_targets_pass_through():
    x = np.arange(35, dtype=np.float32).reshape(7, 5)
    y = np.eye(7, dtype=np.float32)  # one-hot targets keep their dtype
    xs, ys = epoch(DataLoader(x, y, batch_size=3, shuffle=False))
    assert [b.shape for b in xs] == [(3, 5), (3, 5), (1, 5)]
    np.testing.assert_array_equal(np.concatenate(xs), x)
    assert ys[0].dtype == np.float32
    np.testing.assert_array_equal(np.concatenate(ys), y)


def test_non_contiguous_input():
    x = images(10, h=8, w=8)[:, :, :, ::-1]  # a reversed view
    xb, _ = next(iter(DataLoader(x, np.arange(10), batch_size=10, shuffle=False, normalize="unit")))
    np.testing.assert_array_equal(xb, x / np.float32(255))


def all_crops_and_flips(img, pad):
    """{(dy, dx, flipped): image} for every crop window of the zero-padded image and its mirror,
    computed with np.pad and slicing (independently of the kernel)."""
    c, h, w = img.shape
    padded = np.pad(img, ((0, 0), (pad, pad), (pad, pad)))
    out = {}
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[:, dy:dy + h, dx:dx + w]
            out[(dy, dx, False)] = crop
            out[(dy, dx, True)] = crop[:, :, ::-1]
    return out


def test_crops_and_flips_really_happen():
    x = images(200, h=8, w=8, seed=3)
    loader = DataLoader(x, np.arange(200), batch_size=64, augment="crop_flip", normalize="unit", seed=1)
    seen, first = [], {}
    for xb, yb in loader:
        for img, n in zip(xb, yb, strict=True):
            raw = np.rint(img * 255).astype(np.uint8)
            matches = [k for k, v in all_crops_and_flips(x[n], CROP_PADDING).items() if np.array_equal(raw, v)]
            assert len(matches) == 1, "each output is exactly one crop (and maybe mirror) of its source"
            seen.append(matches[0])
            first[n] = raw
    assert len(seen) == 200
    flipped = sum(f for _, _, f in seen)
    shifted = sum((dy, dx) != (CROP_PADDING, CROP_PADDING) for dy, dx, _ in seen)
    assert 60 <= flipped <= 140                        # p = 0.5
    assert shifted >= 180                              # 80 of 81 windows are shifted
    assert len({(dy, dx) for dy, dx, _ in seen}) > 40  # offsets spread over the 9x9 windows
    # another epoch draws other crops of the same images
    changed = sum(not np.array_equal(np.rint(img * 255).astype(np.uint8), first[n])
                  for xb, yb in loader for img, n in zip(xb, yb, strict=True))
    assert changed >= 180


def test_padding_is_zero_before_normalization():
    """A window shifted fully into the padding shows (0 - mean) / std, as torchvision's pad-then-normalize."""
    x = np.full((64, 3, 2, 2), 200, np.uint8)  # 2x2 images: most windows reach into the padding
    xb, _ = next(iter(DataLoader(x, np.arange(64), batch_size=64, augment="crop_flip", normalize="cifar10", seed=0)))
    pad_value = (0 - np.array(cifar10.MEAN)) / np.array(cifar10.STD)
    img_value = (200 / 255 - np.array(cifar10.MEAN)) / np.array(cifar10.STD)
    for c in range(3):
        values = np.unique(xb[:, c])
        np.testing.assert_allclose(values, np.sort([pad_value[c], img_value[c]]).astype(np.float32), rtol=1e-6)


def test_augment_and_normalize_together_match_numpy():
    x = images(16, h=6, w=7, seed=4)
    loader = DataLoader(x, np.arange(16), batch_size=16, augment="crop_flip", normalize="cifar10", seed=2)
    xb, yb = next(iter(loader))
    mean = np.array(cifar10.MEAN).reshape(3, 1, 1)
    std = np.array(cifar10.STD).reshape(3, 1, 1)
    for img, n in zip(xb, yb, strict=True):
        raw = img * std + mean  # undo the normalization, back to [0, 1]
        candidates = all_crops_and_flips(x[n] / 255.0, CROP_PADDING).values()
        assert min(np.abs(raw - v).max() for v in candidates) < 1e-6


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(y=np.arange(9)), ValueError, "same number of samples; received len(x)=10, len(y)=9"),
    (dict(batch_size=0), ValueError, "DataLoader: batch_size must be a positive int. Received: batch_size=0"),
    (dict(batch_size=-4), ValueError, "DataLoader: batch_size must be a positive int. Received: batch_size=-4"),
    (dict(batch_size=2.0), ValueError, "DataLoader: batch_size must be a positive int. Received: batch_size=2.0"),
    (dict(batch_size=True), ValueError, "DataLoader: batch_size must be a positive int. Received: batch_size=True"),
    (dict(augment="flip"), ValueError, "augment must be one of (None, 'crop_flip'); received augment='flip'"),
    (dict(normalize="imagenet"), ValueError,
     "normalize must be one of (None, 'unit', 'cifar10'); received normalize='imagenet'"),
    (dict(shuffle="yes"), TypeError, "shuffle must be True or False; received shuffle='yes'"),
    (dict(drop_last=1), TypeError, "drop_last must be True or False; received drop_last=1"),
    (dict(seed=-1), ValueError, "DataLoader: seed must be an int >= 0. Received: seed=-1"),
    (dict(x=np.zeros((10, 12)), augment="crop_flip"), ValueError,
     "augment='crop_flip' needs NCHW images (N, C, H, W); received x of shape (10, 12)"),
    (dict(x=np.zeros((10, 1, 4, 4)), normalize="cifar10"), ValueError,
     "normalize='cifar10' needs NCHW images with 3 channels (N, 3, H, W); received x of shape (10, 1, 4, 4)"),
    (dict(x=np.zeros((10, 3, 4, 4), bool)), TypeError, "x must be an integer or float array; received dtype bool"),
])
def test_bad_arguments(kwargs, error, message):
    args = dict(x=images(10, h=4, w=4), y=np.arange(10))
    args.update(kwargs)
    with pytest.raises(error) as err:
        DataLoader(args.pop("x"), args.pop("y"), **args)
    assert message in str(err.value)
