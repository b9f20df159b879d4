"""A Keras-style progress bar: `12/40 [======>.......] - ETA: 3s - loss: 0.1234 - accuracy: 0.91`.

On a terminal the line is redrawn in place; elsewhere (logs, CI) only the finished epoch's line
is printed, so a log file does not fill with partial lines."""
import sys
import time


def _fmt_time(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    if seconds >= 1:
        return f"{seconds:.0f}s"
    return f"{seconds * 1000:.0f}ms"


class Progbar:
    def __init__(self, target, width=30, verbose=1, stream=None):
        self.target, self.width, self.verbose = target, width, verbose
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0

    def _bar(self, current):
        if not self.target:
            return f"{current}"
        done = int(self.width * current / self.target)
        arrow = ">" if current < self.target else "="
        bar = "=" * max(done - 1, 0) + (arrow if done else "") + "." * (self.width - done)
        digits = len(str(self.target))
        return f"{current:{digits}d}/{self.target} [{bar}]"

    def update(self, current, values=(), finalize=False):
        """Draw step ``current`` with ``values`` [(name, float), ...]."""
        if self.verbose != 1 and not finalize:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        if not finalize and (not self.interactive or now - self._last_draw < 0.1):
            return
        self._last_draw = now
        metrics = "".join(f" - {k}: {v:.4f}" for k, v in values)
        if finalize:
            per_step = elapsed / max(current, 1)
            timing = f" - {_fmt_time(elapsed)} {_fmt_time(per_step)}/step"
        else:
            eta = elapsed / max(current, 1) * max((self.target or current) - current, 0)
            timing = f" - ETA: {_fmt_time(eta)}"
        line = (self._bar(current) if self.verbose == 1 else "") + timing + metrics
        if self.interactive:
            self.stream.write("\r" + line.ljust(getattr(self, "_width_drawn", 0)))
            self._width_drawn = len(line)
        elif finalize:
            self.stream.write(line)
        if finalize:
            self.stream.write("\n")
        self.stream.flush()
