"""The README's "Twenty lines" example, run as written (only smaller), learns."""
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SHRINK = {"n_train=5000": "n_train=2000", "n_test=1000": "n_test=500", "epochs=6": "epochs=3"}


def readme_example() -> str:
    text = README.read_text()
    section = text[text.index("## Twenty lines"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_example_names_what_the_shrinking_substitutes():
    code = readme_example()
    for old in SHRINK:
        assert old in code, f"the README example no longer says {old}: update SHRINK"


@pytest.mark.slow
def test_the_readme_example_learns_well_above_chance(tmp_path, monkeypatch, capsys):
    import tinydl as td
    code = readme_example()
    for old, new in SHRINK.items():
        code = code.replace(old, new)
    monkeypatch.chdir(tmp_path)              # it writes shapes.npz into the current folder
    td.set_seed(0)
    scope = {}
    exec(compile(code, str(README), "exec"), scope)
    loss, acc = scope["model"].evaluate(scope["x_test"], scope["y_test"])
    assert np.isfinite(loss) and acc > 0.25          # chance is 0.10; measured 0.44
    assert (tmp_path / "shapes.npz").exists()
    assert "Total params" in capsys.readouterr().out


def test_the_three_forms_run_as_written():
    import tinydl as td
    from tinydl import layers
    text = README.read_text()
    code = re.search(r"```python\n(.*?)```", text[text.index("## Three forms of a model"):], re.S).group(1)
    rng = np.random.default_rng(0)
    scope = {"td": td, "layers": layers, "np": np,
             "x": rng.standard_normal((4, 16, 8, 8)).astype(np.float32), "y": rng.integers(0, 10, 4)}
    td.set_seed(0)
    exec(compile(code, str(README), "exec"), scope)
    model = scope["model"]                      # the functional residual net, after one tape step
    assert model.optimizer is None and [w.shape for w in model.get_weights()][:2] == [(16, 16, 3, 3), (16,)]
    before = [w.copy() for w in model.get_weights()]
    loss_fn, opt = scope["loss_fn"], scope["opt"]
    with td.GradientTape() as tape:
        loss = loss_fn(scope["y"], model(scope["x"], training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    assert len(grads) == len(model.trainable_weights) and all(np.any(g != 0) for g in grads[:2])
    opt.apply(grads, model.trainable_weights)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    assert scope["Net"]()(np.zeros((2, 5), np.float32)).shape == (2, 10)
