"""load_weights of a file that is not a weights .npz says so (issue 9, item 20)."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers


def _model():
    return td.Sequential([layers.Input((3,)), layers.Dense(2)])


@pytest.mark.parametrize("content, says", [
    (b"w0,w1\n1.0,2.0\n", r"found text \('w0,w1"),
    (b"", r"found an empty file"),
    (b"PK\x03\x04 and then nothing of a zip", r"found binary data starting b'PK"),
])
def test_not_a_weights_file_is_named_as_such(tmp_path, content, says):
    path = tmp_path / "weights.txt"
    path.write_bytes(content)
    model = _model()
    with pytest.raises(ValueError, match=r"weights.txt is not a tinydl weights file: expected an \.npz \(or \.keras\) archive, " + says) as err:
        model.load_weights(path)
    assert "pickled" not in str(err.value)


def test_a_real_weights_file_still_loads(tmp_path):
    model = _model()
    model.build()
    model.save_weights(tmp_path / "w.npz")
    other = _model()
    other.load_weights(tmp_path / "w.npz")
    for a, b in zip(model.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with np.load(tmp_path / "w.npz", allow_pickle=False) as data:
        assert "__architecture__" in data.files


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        _model().load_weights(tmp_path / "nope.npz")
