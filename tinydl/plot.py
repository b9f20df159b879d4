"""Training curves drawn with Pillow (no plotting dependency): one panel per metric, train and
validation lines, written atomically as PNG."""
from PIL import Image, ImageDraw

from tinydl._io import atomic_open

COLORS = {"train": (31, 119, 180), "val": (255, 127, 14)}


def _panel(draw, box, title, series):
    x0, y0, x1, y1 = box
    draw.rectangle(box, outline=(0, 0, 0))
    draw.text((x0 + 6, y0 - 16), title, fill=(0, 0, 0))
    values = [v for ys in series.values() for v in ys]
    if not values:
        return
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1.0
    draw.text((x0 - 44, y0), f"{hi:.3g}", fill=(80, 80, 80))
    draw.text((x0 - 44, y1 - 12), f"{lo:.3g}", fill=(80, 80, 80))
    n = max(len(ys) for ys in series.values())
    for kind, ys in series.items():
        pts = [(x0 + (x1 - x0) * (i / max(n - 1, 1)), y1 - (y1 - y0) * (v - lo) / (hi - lo)) for i, v in enumerate(ys)]
        if len(pts) > 1:
            draw.line(pts, fill=COLORS[kind], width=2)
        for px, py in pts:
            draw.ellipse((px - 2, py - 2, px + 2, py + 2), fill=COLORS[kind])
    draw.text((x1 - 90, y0 + 4), "train", fill=COLORS["train"])
    if "val" in series:
        draw.text((x1 - 50, y0 + 4), "val", fill=COLORS["val"])


def plot_history(history: dict, path, width=420, height=300):
    """Save ``history`` ({"loss": [...], "val_loss": [...], ...}) as a PNG at ``path``."""
    names = [k for k in history if not k.startswith("val_") and k != "learning_rate"]
    image = Image.new("RGB", (width * max(len(names), 1), height), "white")
    draw = ImageDraw.Draw(image)
    for i, name in enumerate(names):
        series = {"train": history[name]}
        if f"val_{name}" in history:
            series["val"] = history[f"val_{name}"]
        _panel(draw, (i * width + 56, 30, (i + 1) * width - 16, height - 30), name, series)
        draw.text((i * width + 56, height - 24), "epoch", fill=(80, 80, 80))
    with atomic_open(path, "wb", suffix=".png") as f:
        image.save(f, format="PNG")
