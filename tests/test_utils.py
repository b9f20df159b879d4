"""td.utils by hand: to_categorical's rows, load_img's pixels from a file Pillow wrote."""
import numpy as np
import pytest
from PIL import Image

import tinydl as td
from tinydl import utils


def test_to_categorical_by_hand():
    np.testing.assert_array_equal(utils.to_categorical([2, 0, 1]), [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    out = utils.to_categorical(np.array([[1], [3]]), num_classes=5)
    assert out.dtype == np.float32 and out.shape == (2, 5)
    np.testing.assert_array_equal(out, [[0, 1, 0, 0, 0], [0, 0, 0, 1, 0]])
    np.testing.assert_array_equal(utils.to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    assert utils.to_categorical(np.array([[0, 1], [1, 1]])).shape == (2, 2, 2)
    assert td.utils is utils


@pytest.mark.parametrize("y,kw,match", [
    ([0, 3], {"num_classes": 3}, "must be < num_classes=3; received 3"),
    ([-1, 0], {}, "must be >= 0; received -1"),
    ([0.5], {}, "non-integral float"),
    (["a"], {}, "dtype <U1"),
    ([0], {"num_classes": 0}, "num_classes must be a positive int"),
])
def test_to_categorical_bad_input(y, kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        utils.to_categorical(y, **kw)


def test_load_img_by_hand(tmp_path):
    # a 2 x 3 RGB image: row 0 red, green, blue; row 1 white, black, (51, 102, 153)
    px = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]],
                   [[255, 255, 255], [0, 0, 0], [51, 102, 153]]], dtype=np.uint8)
    path = tmp_path / "x.png"
    Image.fromarray(px).save(path)
    a = utils.load_img(path)
    assert a.shape == (3, 2, 3) and a.dtype == np.float32
    np.testing.assert_allclose(a[:, 1, 2], [0.2, 0.4, 0.6], rtol=1e-6)
    np.testing.assert_allclose(a[0], [[1, 0, 0], [1, 0, 0.2]], rtol=1e-6)
    g = utils.load_img(path, color_mode="grayscale")
    assert g.shape == (1, 2, 3)
    # ITU-R 601-2 luma, as Pillow's "L": (299 R + 587 G + 114 B) / 1000 -> red 76
    assert g[0, 0, 0] == pytest.approx(76 / 255)
    big = utils.load_img(path, target_size=(4, 6))                    # nearest: each pixel doubled
    assert big.shape == (3, 4, 6)
    np.testing.assert_array_equal(big[:, ::2, ::2], a)
    np.testing.assert_array_equal(big[:, 1::2, 1::2], a)


def test_load_img_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError):
        utils.load_img(tmp_path / "missing.png")
    Image.new("RGB", (2, 2)).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match="target_size must be"):
        utils.load_img(tmp_path / "a.png", target_size=(0, 3))
    with pytest.raises(ValueError, match="color_mode must be"):
        utils.load_img(tmp_path / "a.png", color_mode="cmyk")
