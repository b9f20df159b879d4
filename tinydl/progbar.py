"""A Keras 3 progress bar, and the note that kernels are being compiled.

verbose=1, redrawn in place on a terminal or in a Jupyter notebook:

    157/157 ━━━━━━━━━━━━━━━━━━━━ 2s 10ms/step - loss: 0.4123 - accuracy: 0.8712

(while running, the time is the ETA; when done, the time taken). verbose=2, one line per epoch:

    157/157 - 2s - 10ms/step - loss: 0.4123 - accuracy: 0.8712

How it redraws: each update writes "\\r" and the new line, padded with spaces over the longer
line before it. A terminal moves the cursor back to the line's start; Jupyter's output area
treats "\\r" the same way (as Keras relies on). A line longer than the terminal would wrap, and
"\\r" then only returns to the start of its last row, so on a terminal every line is fitted to
the width: the bar shrinks first, then the metrics are cut. Where the output is neither (a log
file, CI), only each epoch's finished line is written.

The time per step leaves out the first step, which includes compiling the kernels (Numba
compiles on first call), so the ETA is not inflated by it.
"""
import math
import os
import re
import shutil
import sys
import time

BAR_WIDTH = 20
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


def _visible(text) -> int:
    return len(_ANSI.sub("", text))


def format_eta(seconds) -> str:
    """Keras's ETA: 0:00:00 past an hour, 0:00 past a minute, else whole seconds."""
    s = int(seconds)
    if seconds > 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    if seconds > 60:
        return f"{s // 60}:{s % 60:02d}"
    return f"{s}s"


def format_per_step(seconds, unit="step") -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def format_value(v) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f"{v:.4f}" if abs(v) > 1e-3 or v == 0 else f"{v:.4e}"


class Progbar:
    """``Progbar(target, verbose=1)``; ``update(current, [(name, value), ...], finalize=False)``.
    Values are shown as given (the fit loop passes running means)."""

    def __init__(self, target, width=BAR_WIDTH, verbose=1, stream=None, interval=0.05, unit_name="step"):
        self.target, self.width, self.verbose = target, width, verbose
        self.stream = stream or sys.stdout
        self.interval, self.unit = interval, unit_name
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.notebook = self.stream is sys.stdout and _in_notebook() and not tty
        self.terminal = tty
        self.interactive = tty or self.notebook
        self.color = self.interactive and "NO_COLOR" not in os.environ
        self.glyph = "━" if _can_encode(self.stream, "━") else "="
        self.start = time.perf_counter()
        self._after_first = None       # time when step 1 ended: the per-step time starts there
        self._last_draw = 0.0
        self._prev_width = 0

    # -- timing ------------------------------------------------------------------------------
    def per_step(self, current, now) -> float:
        """Seconds per step, leaving out step 1 once there are later steps."""
        if not current:
            return 0.0
        if self._after_first is not None and current > 1:
            per = (now - self._after_first) / (current - 1)
        else:
            per = (now - self.start) / current
        if current == 1 and self._after_first is None:
            self._after_first = now
        return per

    # -- drawing -----------------------------------------------------------------------------
    def _count(self, current):
        if not self.target:
            return f"{current:7d}/Unknown"
        digits = int(math.log10(self.target)) + 1
        return f"{current:{digits}d}/{self.target}"

    def _bar(self, current, width):
        done = min(width, int(width * current / self.target)) if self.target else 0
        if self.color:
            return f"\x1b[32m{self.glyph * done}\x1b[0m\x1b[37m{self.glyph * (width - done)}\x1b[0m"
        rest = "─" if self.glyph == "━" else "."      # without colour, a lighter glyph for the rest
        return self.glyph * done + rest * (width - done)

    def line(self, current, values, finalize, now, columns=None) -> str:
        """The text of one redraw (no "\\r"), fitted to ``columns`` when given."""
        per = self.per_step(current, now)
        metrics = [f" - {k}: {format_value(v)}" for k, v in values]
        if self.verbose == 2:
            text = f"{self._count(current)} - {now - self.start:.0f}s - {format_per_step(per, self.unit)}"
            return text + "".join(metrics)
        if self.target and not finalize:
            clock = format_eta(per * max(self.target - current, 0))
        else:
            clock = f"{now - self.start:.0f}s"
        count, info = self._count(current), f" {clock} {format_per_step(per, self.unit)}"
        if self.color:
            count, info = f"\x1b[1m{count}\x1b[0m", f" \x1b[1m{clock}\x1b[0m {format_per_step(per, self.unit)}"
        width = self.width if self.target else 0
        rest = []
        if columns:
            width, metrics, rest = _fit(_visible(count) + _visible(info), width, metrics, columns - 1)
        bar = f" {self._bar(current, width)}" if width else ""
        text = count + bar + info + "".join(metrics)
        if columns and _visible(text) > columns - 1:          # a terminal too narrow for even that
            text = _ANSI.sub("", text)[:columns - 1]
        if rest and finalize:
            # the finished line is not redrawn: what did not fit goes on rows of its own
            text += "".join(f"\n  {' - '.join(row)}" for row in rest)
        return text

    def update(self, current, values=(), finalize=False):
        """Draw step ``current`` with ``values`` [(name, float), ...]."""
        if self.verbose not in (1, 2):
            return
        now = time.perf_counter()
        if self.verbose == 2 or not self.interactive:
            self.per_step(current, now)            # keeps the first-step time
            if finalize:
                self._write(self.line(current, values, True, now) + "\n")
            return
        if not finalize and now - self._last_draw < self.interval:
            self.per_step(current, now)
            return
        self._last_draw = now
        columns = shutil.get_terminal_size((80, 24)).columns if self.terminal else None
        first, sep, more = self.line(current, values, finalize, now, columns).partition("\n")
        width = _visible(first)
        pad = " " * max(self._prev_width - width, 0)     # blank out the end of a longer last line
        self._prev_width = width
        self._write("\r" + first + pad + sep + more + ("\n" if finalize else ""))

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()


def _fit(fixed, width, metrics, room):
    """Fit one row of ``fixed`` columns plus a bar and metrics into ``room`` columns: the metrics
    that do not fit move off the row (from the end), then the bar takes what is left (at most
    ``width``, and not at all when fewer than 5 columns are left). Returns (bar width, metrics
    kept, rows of the metrics left over: lists of "name: value" that fit after a 2-space indent)."""
    kept = list(metrics)
    while kept and fixed + sum(len(m) for m in kept) > room:
        kept.pop()
    free = room - fixed - sum(len(m) for m in kept) - 1      # 1: the space before the bar
    bar = min(width, free) if free >= 5 else 0
    rows, row = [], []
    for m in metrics[len(kept):]:
        piece = m[3:]                       # without the leading " - "
        if row and 2 + len(" - ".join(row + [piece])) > room:
            rows.append(row)
            row = []
        row.append(piece)
    return bar, kept, rows + ([row] if row else [])


def _can_encode(stream, text) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def auto_verbose(stream=None) -> int:
    """Keras's verbose="auto": 1 (the live bar) on a terminal or in a notebook, else 2 (one line
    per epoch, for logs and CI)."""
    stream = stream or sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    return 1 if tty or (stream is sys.stdout and _in_notebook()) else 2


# ---- the first-compile note ------------------------------------------------------------------
_announced = False


def kernels_compiled() -> bool:
    """True when Numba's on-disk cache already holds compiled CPU kernels (index files *.nbi
    beside the kernel sources, or under NUMBA_CACHE_DIR)."""
    from tinydl.kernels import cpu

    folders = [os.path.join(os.path.dirname(cpu.__file__), "__pycache__"), os.environ.get("NUMBA_CACHE_DIR", "")]
    for folder in filter(os.path.isdir, folders):
        for _, _, files in os.walk(folder):
            if any(f.endswith(".nbi") for f in files):
                return True
    return False


def announce_first_compile(print_fn=print) -> bool:
    """Say once per process, before the first training step on the CPU device, that the kernels
    are being compiled, when Numba's cache is empty. Returns True when it said so (this run
    then includes the compile time)."""
    global _announced
    from tinydl import device

    if _announced or device.get_device() != "cpu" or kernels_compiled():
        return False
    _announced = True
    print_fn("compiling kernels (first run only: Numba caches them on disk)...", flush=True)
    return True
