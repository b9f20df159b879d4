"""curves.png: the layout helpers worked by hand, and the picture itself from both backends
(Pillow always; matplotlib when installed): ticks, grid, legend above the data, title."""
import numpy as np
import pytest
from PIL import Image

from tinydl import plot

HISTORY = {"loss": [1.2, 0.9, 0.7, 0.6], "accuracy": [0.3, 0.5, 0.6, 0.7],
           "val_loss": [1.3, 1.0, 0.8, 0.85], "val_accuracy": [0.25, 0.45, 0.62, 0.6],
           "learning_rate": [1e-3] * 4}


# step = range / 4 rounded up to 1, 2 or 5 x 10^k; from a multiple of it below lo to one at or above hi
@pytest.mark.parametrize("lo,hi,want", [(0.25, 0.885, [0.2, 0.4, 0.6, 0.8, 1.0]),
                                        (0.2, 1.3, [0.0, 0.5, 1.0, 1.5]),
                                        (0.0312, 0.0371, [0.030, 0.032, 0.034, 0.036, 0.038]),
                                        (1.0, 1.0, [0.95, 1.0, 1.05])])
def test_nice_ticks_by_hand(lo, hi, want):
    assert plot.nice_ticks(lo, hi) == pytest.approx(want)


def test_epoch_ticks_by_hand():
    assert plot.epoch_ticks(4) == [1, 2, 3, 4]
    assert plot.epoch_ticks(12) == [1, 2, 4, 6, 8, 10, 12]
    assert plot.epoch_ticks(100) == [1] + list(range(10, 101, 10))


def test_best_validation_by_hand():
    assert plot.best_validation(HISTORY) == ("val_accuracy", 0.62, 3)
    assert plot.best_validation({"loss": [2, 1], "val_loss": [3, 2.5]}) == ("val_loss", 2.5, 2)
    assert plot.best_validation({"loss": [2, 1, 1.5]}) == ("loss", 1, 2)


def _grid_rows(a, box):
    # rows inside the plotting box where most pixels are the light grid grey
    x0, y0, x1, y1 = box
    inner = a[y0 + 2:y1 - 1, x0 + 2:x1 - 1]
    grey = np.all(np.abs(inner.astype(int) - 222) <= 1, axis=2).mean(axis=1)
    return int(np.sum(grey > 0.5))


def test_pillow_picture(tmp_path):
    path = tmp_path / "curves.png"
    plot.plot_history(HISTORY, path, title="mlp on shapes10", backend="pillow")
    image = Image.open(path)
    assert image.format == "PNG" and image.size == (2 * plot.PANEL_W, plot.PANEL_H + 44)
    a = np.asarray(image.convert("RGB"))
    m = plot.MARGIN
    box = (m["left"], 44 + m["top"], plot.PANEL_W - m["right"], 44 + plot.PANEL_H - m["bottom"])
    assert _grid_rows(a, box) >= 3                                 # several y grid lines
    orange = np.all(a == plot.COLORS["val"], axis=2)
    legend_rows = np.nonzero(orange[:box[1]].any(axis=1))[0]     # the legend's sample, above the box
    assert legend_rows.size and legend_rows.max() < box[1]
    data = orange[box[1]:box[3], box[0]:box[2]]
    assert data.sum() > 100                                        # the validation line is drawn


def test_matplotlib_picture(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves.png"
    plot.plot_history(HISTORY, path, title="mlp on shapes10", backend="matplotlib")
    image = Image.open(path)
    assert image.format == "PNG" and image.size[0] > image.size[1] > 300


def test_bad_backend(tmp_path):
    with pytest.raises(ValueError, match="backend must be"):
        plot.plot_history(HISTORY, tmp_path / "c.png", backend="svg")
