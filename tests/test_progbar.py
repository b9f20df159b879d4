"""The progress bar as a person sees it: Keras 3's formats, a pseudo-terminal of 80 columns in
which no redraw may wrap (a wrapped line leaves stale rows behind), the first (compiling) step
left out of the time per step, and live redraws in a Jupyter kernel (skipped without one)."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from tinydl import progbar
from tinydl.progbar import Progbar

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(progbar.time, "perf_counter", c)
    return c


def test_keras3_line_and_the_first_step_left_out(clock):
    bar = Progbar(157, verbose=1)
    clock.t += 5.0                    # step 1: 5 s (compiling)
    first = bar.line(1, [("loss", 0.5)], False, clock.t)
    assert first == "  1/157 " + "─" * 20 + " 13:00 5s/step - loss: 0.5000"      # ETA 156 x 5 s
    clock.t += 0.01 * 156             # then 156 steps of 10 ms
    done = bar.line(157, [("loss", 0.41234), ("accuracy", 0.87)], True, clock.t)
    assert done == "157/157 " + "━" * 20 + " 7s 10ms/step - loss: 0.4123 - accuracy: 0.8700"


def test_eta_uses_the_steps_after_the_first(clock):
    bar = Progbar(101, verbose=1)
    clock.t += 30.0                   # a 30 s compile in step 1
    bar.line(1, [], False, clock.t)
    clock.t += 0.5 * 50               # 50 steps of 0.5 s
    text = bar.line(51, [], False, clock.t)
    # 50 steps left at 0.5 s: ETA 25s (with the first step in, it would be 55 s / 51 * 50 = 53s)
    assert re.search(r" 25s 500ms/step$", text), text
    assert "━" * 10 + "─" * 10 in text


def test_verbose_2_line(clock):
    bar = Progbar(157, verbose=2)
    bar.line(1, [], False, clock.t + 1)
    clock.t += 1 + 0.01 * 156
    assert bar.line(157, [("loss", 0.25), ("val_loss", 0.0001)], True, clock.t) == \
        "157/157 - 3s - 10ms/step - loss: 0.2500 - val_loss: 1.0000e-04"


def test_non_interactive_writes_only_the_finished_line(tmp_path):
    with open(tmp_path / "log.txt", "w") as f:
        bar = Progbar(3, verbose=1, stream=f)
        for i in range(1, 4):
            bar.update(i, [("loss", 1.0 / i)], finalize=(i == 3))
    text = (tmp_path / "log.txt").read_text()
    assert text.count("\n") == 1 and "\r" not in text and "\x1b" not in text
    assert re.fullmatch(r"3/3 ━{20} \d+s \d+(us|ms|s)/step - loss: 0\.3333\n", text), text


# ---- in a pseudo-terminal of 80 columns --------------------------------------------------------------
def _run_in_pty(code, columns=80):
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONIOENCODING"] = "utf-8"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdin=slave, stdout=slave,
                            stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:               # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=300) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode("utf-8")


def _terminal(raw, columns):
    """Replay the output as a terminal would: the widest the cursor got on any row, and the
    rows left on screen (each row's text after its last carriage return)."""
    text = ANSI.sub("", raw).replace("\r\n", "\n")
    widest, col = 0, 0
    rows, row = [], ""
    for ch in text:
        if ch == "\r":
            col, row = 0, ""
        elif ch == "\n":
            rows.append(row)
            col, row = 0, ""
        else:
            col += 1
            row = row[:col - 1] + ch + row[col:]
            widest = max(widest, col)
    return widest, [r.rstrip() for r in rows + ([row] if row else [])]


PTY_SCRIPT = """
    import time
    from tinydl.progbar import Progbar
    for names in (["loss", "accuracy"], ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]):
        bar = Progbar(157, verbose=1, interval=0)
        for i in range(1, 158):
            time.sleep(0.001)
            vals = [(n, 0.5 + 0.001 * i) for n in names if not n.startswith("val") or i == 157]
            bar.update(i, vals, finalize=(i == 157))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_no_redraw_wraps_at_80_columns():
    raw = _run_in_pty(PTY_SCRIPT)
    assert raw.count("\r") > 300             # redrawn in place, step by step
    widest, rows = _terminal(raw, 80)
    assert widest <= 79
    # what stays on screen: one finished line per bar, the second one continued on its own row
    assert len(rows) == 3, rows
    assert re.fullmatch(r"157/157 ━{20} \d+s \d+(us|ms)/step - loss: 0\.6570 - accuracy: 0\.6570", rows[0])
    assert re.fullmatch(r"157/157 ━+ \d+s \d+(us|ms)/step - loss: 0\.6570 - accuracy: 0\.6570.*", rows[1])
    assert "val_loss: 0.6570" in rows[1] + rows[2] and rows[2].startswith("  ")
    assert "learning_rate: 0.6570" in rows[2]


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_fit_in_a_pty_draws_keras_lines():
    raw = _run_in_pty("""
        import numpy as np
        import tinydl as td
        rng = np.random.default_rng(0)
        x = rng.normal(size=(300, 4)).astype(np.float32); y = (x[:, 0] > 0).astype(np.int64)
        m = td.Sequential([td.layers.Input((4,)), td.layers.Dense(2, activation="softmax")])
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
        m.fit(x, y, batch_size=10, epochs=2, verbose=1, validation_data=(x, y))
    """)
    widest, rows = _terminal(raw, 80)
    assert widest <= 79
    rows = [r for r in rows if not r.startswith("compiling")]
    assert rows[0] == "Epoch 1/2" and rows[3] == "Epoch 2/2", rows
    # the bar shrinks so the epoch's metrics stay on its row; what is left continues below
    assert re.fullmatch(r"30/30 ━{5,20} \d+s \d+(us|ms)/step - loss: \d\.\d{4} - acc: \d\.\d{4} - val_loss: \d\.\d{4}",
                        rows[1]), rows
    assert re.fullmatch(r"  val_acc: \d\.\d{4}", rows[2]) and len(rows) == 6, rows


def test_announce_first_compile_once(monkeypatch):
    said = []
    monkeypatch.setattr(progbar, "_announced", False)
    monkeypatch.setattr(progbar, "kernels_compiled", lambda: False)
    assert progbar.announce_first_compile(lambda *a, **k: said.append(a[0])) is True
    assert progbar.announce_first_compile(lambda *a, **k: said.append(a[0])) is False
    assert said == ["compiling kernels (first run only: Numba caches them on disk)..."]
    monkeypatch.setattr(progbar, "_announced", False)
    monkeypatch.setattr(progbar, "kernels_compiled", lambda: True)
    assert progbar.announce_first_compile(lambda *a, **k: said.append(a[0])) is False


# ---- in a Jupyter kernel -----------------------------------------------------------------------------
def test_redraws_live_in_a_notebook_kernel():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {ROOT!r})
        from tinydl.progbar import Progbar
        bar = Progbar(50, verbose=1, interval=0)
        for i in range(1, 51):
            time.sleep(0.002)
            bar.update(i, [("loss", 1.0 / i)], finalize=(i == 50))
    """)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.output_type == "stream")
    assert text.count("\r") == 50                    # every step redrawn over the last
    _, rows = _terminal(text, 10_000)                # how the notebook shows "\r": the last draw
    assert len(rows) == 1 and re.fullmatch(r"50/50 ━{20} \d+s \d+(us|ms)/step - loss: 0\.0200", rows[0]), rows
