"""Training curves for a report: one panel per metric, train and validation lines over the
epochs, written atomically as PNG.

Each panel has ticks on the epochs, several y ticks at round values, a light grid, a legend
above the plotting area (never over the data) and the metric as its title; the figure's title
names the run and its best validation value. Drawn with matplotlib when it is installed
(``pip install 'tinydl[plot]'``; no pyplot, so a notebook's backend is left alone), else with
Pillow, which tinydl always has: the same layout, in Pillow's scalable font.
"""
import math

from tinydl._io import atomic_open

COLORS = {"train": (31, 119, 180), "val": (255, 127, 14)}
LABELS = {"train": "train", "val": "validation"}


def _higher_is_better(name):
    return "acc" in name or name.endswith("auc")


def best_validation(history):
    """(name, value, epoch 1-based) of the best validation value: val_accuracy-like first, then
    val_loss; the train loss when there is no validation. None for an empty history."""
    names = [k for k in history if k.startswith("val_") and history[k]]
    names = sorted(names, key=lambda k: (not _higher_is_better(k), k != "val_loss"))
    if not names:
        names = [k for k in ("loss",) if history.get(k)]
    if not names:
        return None
    name = names[0]
    values = list(history[name])
    pick = max if _higher_is_better(name) else min
    i = values.index(pick(values))
    return name, values[i], i + 1


def _title(history, title):
    best = best_validation(history)
    text = title or "training curves"
    if best:
        name, value, epoch = best
        text += f"  |  best {name} {value:.4f} (epoch {epoch})"
    return text


def _panels(history):
    names = [k for k in history if not k.startswith("val_") and k != "learning_rate" and history[k]]
    out = []
    for name in names:
        series = {"train": list(history[name])}
        if history.get(f"val_{name}"):
            series["val"] = list(history[f"val_{name}"])
        out.append((name, series))
    return out


def nice_ticks(lo, hi, count=5):
    """About ``count`` round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    lo, hi = min(lo, hi), max(lo, hi)
    if hi == lo:
        pad = abs(lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    ticks = [math.floor(lo / step + 1e-9) * step]
    while ticks[-1] < hi - step * 1e-9:             # until a tick reaches hi
        ticks.append(ticks[0] + len(ticks) * step)
    return [round(t, 12) for t in ticks]


def epoch_ticks(n, most=10):
    """Epoch numbers 1..n to label: every one up to ``most``, else a round stride."""
    stride = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10**9) if n / s <= most)
    return [1] + [e for e in range(stride, n + 1, stride) if e != 1]


def plot_history(history: dict, path, title=None, backend=None):
    """Save ``history`` ({"loss": [...], "val_loss": [...], ...}) as a PNG at ``path``. ``title``
    names the run (e.g. "seed-cnn on cifar10"); the best validation value is added to it.
    ``backend``: "matplotlib", "pillow", or None (matplotlib when installed)."""
    if backend not in (None, "matplotlib", "pillow"):
        raise ValueError(f"backend must be None, 'matplotlib' or 'pillow'; received {backend!r}")
    if backend is None:
        try:
            import matplotlib  # noqa: F401
            backend = "matplotlib"
        except ImportError:
            backend = "pillow"
    draw = _matplotlib if backend == "matplotlib" else _pillow
    with atomic_open(path, "wb", suffix=".png") as f:
        draw(history, _title(history, title), f)


# ---- matplotlib -----------------------------------------------------------------------------------
def _matplotlib(history, title, f):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = _panels(history) or [("loss", {"train": []})]
    fig = Figure(figsize=(5.2 * len(panels), 4.4), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, series) in zip(axes, panels, strict=True):
        n = max(len(ys) for ys in series.values())
        for kind, ys in series.items():
            ax.plot(range(1, len(ys) + 1), ys, marker="o", markersize=4, linewidth=2,
                    color=[c / 255 for c in COLORS[kind]], label=LABELS[kind])
        ax.set_xticks(epoch_ticks(max(n, 1)))
        ax.set_xlim(0.5, max(n, 1) + 0.5)
        ax.set_title(name, fontsize=12)
        ax.set_xlabel("epoch", fontsize=11)
        ax.grid(True, color="0.85", linewidth=0.8)
        ax.tick_params(labelsize=10)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=2, frameon=False, fontsize=10)
    fig.suptitle(title, fontsize=13)
    fig.savefig(f, format="png")


# ---- Pillow ---------------------------------------------------------------------------------------
PANEL_W, PANEL_H = 560, 440
MARGIN = dict(left=74, right=24, top=96, bottom=64)   # around each panel's plotting box


def _font(size):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)      # Pillow >= 10.1: a scalable font
    except TypeError:
        return ImageFont.load_default()


def _text(draw, xy, text, font, fill=(0, 0, 0), anchor="la"):
    draw.text(xy, text, font=font, fill=fill, anchor=anchor)


def _pillow(history, title, f):
    from PIL import Image, ImageDraw

    panels = _panels(history) or [("loss", {"train": []})]
    top = 44
    image = Image.new("RGB", (PANEL_W * len(panels), PANEL_H + top), "white")
    draw = ImageDraw.Draw(image)
    _text(draw, (image.width // 2, 14), title, _font(20), anchor="ma")
    for i, (name, series) in enumerate(panels):
        _pillow_panel(draw, i * PANEL_W, top, name, series)
    image.save(f, format="PNG")


def _pillow_panel(draw, left, top, name, series):
    small, label, head = _font(14), _font(15), _font(17)
    x0, y0 = left + MARGIN["left"], top + MARGIN["top"]
    x1, y1 = left + PANEL_W - MARGIN["right"], top + PANEL_H - MARGIN["bottom"]
    _text(draw, ((x0 + x1) // 2, top + 8), name, head, anchor="ma")
    _pillow_legend(draw, (x0 + x1) // 2, top + 44, series, label)
    values = [v for ys in series.values() for v in ys if math.isfinite(v)]
    n = max((len(ys) for ys in series.values()), default=0)
    ticks = nice_ticks(min(values), max(values)) if values else [0.0, 1.0]
    lo, hi = ticks[0], ticks[-1]

    def px(epoch):
        return x0 + (x1 - x0) * (epoch - 0.5) / max(n, 1)

    def py(v):
        return y1 - (y1 - y0) * (v - lo) / (hi - lo)

    decimals = max(0, -math.floor(math.log10(ticks[1] - ticks[0]))) if len(ticks) > 1 else 2
    for t in ticks:                                   # y grid and ticks
        y = py(t)
        draw.line((x0, y, x1, y), fill=(222, 222, 222))
        _text(draw, (x0 - 8, y), f"{t:.{decimals}f}", small, (60, 60, 60), anchor="rm")
    for e in epoch_ticks(max(n, 1)):                  # x grid and ticks on the epochs
        x = px(e)
        draw.line((x, y0, x, y1), fill=(236, 236, 236))
        draw.line((x, y1, x, y1 + 5), fill=(0, 0, 0))
        _text(draw, (x, y1 + 8), str(e), small, (60, 60, 60), anchor="ma")
    draw.rectangle((x0, y0, x1, y1), outline=(0, 0, 0))
    _text(draw, ((x0 + x1) // 2, y1 + 32), "epoch", label, (40, 40, 40), anchor="ma")
    for kind, ys in series.items():
        pts = [(px(e + 1), py(v)) for e, v in enumerate(ys) if math.isfinite(v)]
        if len(pts) > 1:
            draw.line(pts, fill=COLORS[kind], width=3, joint="curve")
        for x, y in pts:
            draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=COLORS[kind])


def _pillow_legend(draw, centre, y, series, font):
    # a line sample and a label per series, side by side, centred above the plotting box
    items = [(COLORS[k], LABELS[k]) for k in series]
    widths = [28 + 8 + draw.textlength(text, font=font) for _, text in items]
    x = centre - (sum(widths) + 24 * (len(items) - 1)) / 2
    for (color, text), w in zip(items, widths, strict=True):
        draw.line((x, y, x + 28, y), fill=color, width=3)
        draw.ellipse((x + 10, y - 4, x + 18, y + 4), fill=color)
        _text(draw, (x + 36, y), text, font, anchor="lm")
        x += w + 24
