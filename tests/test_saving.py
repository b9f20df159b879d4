"""model.save / load_model: one .keras file with the architecture, the weights, the compile
settings and the optimizer's state; refused cleanly when the file is not one of ours.

Every model form is a parametrisation of MODELS: the functional one runs where td.Model and
td.Input exist."""
import io
import json
import zipfile

import numpy as np
import pytest

import tinydl as td
from tinydl import layers, losses, optimizers, saving


def _sequential():
    return td.Sequential([layers.Input((3,)), layers.Dense(8, activation="relu"),
                          layers.BatchNormalization(), layers.Dropout(0.1),
                          layers.Dense(2, activation="softmax")], name="mlp")


def _sequential_without_input():
    # built by its first call: the saved file records the shape it was built from
    model = td.Sequential([layers.Dense(8, activation="tanh"), layers.Dense(2)])
    model.predict(np.zeros((1, 3), np.float32))
    return model


def _sequential_input_shape_arg():
    return td.Sequential([layers.Dense(8, activation="gelu", input_shape=(3,)), layers.LeakyReLU(0.2),
                          layers.Dense(2, kernel_initializer=td.initializers.torch_default())])


def _functional():
    if not (hasattr(td, "Model") and hasattr(td, "Input")):
        pytest.skip("td.Model / td.Input are not in this branch")
    inputs = td.Input((3,))
    h = layers.Dense(8, activation="relu")(inputs)
    outputs = layers.Dense(2, activation="softmax")(h)
    return td.Model(inputs=inputs, outputs=outputs, name="net")


MODELS = {"sequential": _sequential, "sequential_without_input": _sequential_without_input,
          "sequential_input_shape": _sequential_input_shape_arg, "functional": _functional}


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)).astype(np.float32), rng.integers(0, 2, n)


def _compiled(kind, optimizer="adam", loss="sparse_categorical_crossentropy"):
    td.set_seed(0)
    model = MODELS[kind]()
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    model.predict(_data(1)[0])          # built: the weights exist
    return model


def _assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb, strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kind", MODELS)
def test_save_and_load_give_the_same_model_compiled(kind, tmp_path):
    x, y = _data()
    model = _compiled(kind)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    path = tmp_path / "net.keras"
    model.save(path)
    loaded = td.models.load_model(path)
    assert type(loaded) is type(model)
    assert [type(la).__name__ for la in loaded.layers] == [type(la).__name__ for la in model.layers]
    assert [la.name for la in loaded.layers] == [la.name for la in model.layers]
    _assert_same_weights(model, loaded)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # compiled as it was saved: the same loss, metrics and optimizer settings and step count
    assert type(loaded.loss) is type(model.loss)
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations == 8
    assert loaded.evaluate(x, y, return_dict=True) == model.evaluate(x, y, return_dict=True)


def test_the_archive_holds_config_weights_and_optimizer_state(tmp_path):
    model = _compiled("sequential")
    x, y = _data()
    model.train_on_batch(x, y)
    path = tmp_path / "net.keras"
    saving.save_model(model, path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["config.json", "model.weights.npz", "optimizer.weights.npz"]
        config = json.loads(z.read("config.json"))
        with np.load(io.BytesIO(z.read("model.weights.npz"))) as w:
            assert len(w.files) == len(model.weights)
        with np.load(io.BytesIO(z.read("optimizer.weights.npz"))) as s:
            assert int(s["iterations"]) == 1
            np.testing.assert_array_equal(s["0.m"], td.to_numpy(model.optimizer._state[id(model.weights[0])]["m"]))
    assert config["format"] == "tinydl.keras" and config["class_name"] == "Sequential"
    assert [c["class_name"] for c in config["config"]["layers"]] == \
        ["InputLayer", "Dense", "BatchNormalization", "Dropout", "Dense"]
    assert config["compile_config"]["loss"] == {"class_name": "SparseCategoricalCrossentropy",
                                                "config": {"from_logits": False}}
    assert config["compile_config"]["metrics"][0]["config"]["name"] == "accuracy"
    assert [w["name"] for w in config["weights"]] == [p.name for p in model.weights]


@pytest.mark.parametrize("make_optimizer", [
    lambda: optimizers.Adam(0.01),
    lambda: optimizers.SGD(0.1, momentum=0.9),
    lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda: optimizers.AdamW(optimizers.schedules.ExponentialDecay(0.02, 1, 0.5)),
], ids=["adam", "sgd_momentum", "sgd_nesterov", "adamw_schedule"])
@pytest.mark.parametrize("kind", ["sequential_input_shape", "functional"])   # no dropout
def test_training_resumes_exactly_after_save_and_load(kind, make_optimizer, tmp_path):
    batches = [_data(8, seed=s) for s in range(4)]
    straight = _compiled(kind, make_optimizer())
    resumed = _compiled(kind, make_optimizer())
    resumed.set_weights(straight.get_weights())
    for xb, yb in batches:
        straight.train_on_batch(xb, yb)
    for xb, yb in batches[:2]:
        resumed.train_on_batch(xb, yb)
    resumed.save(tmp_path / "half.keras")
    resumed = td.models.load_model(tmp_path / "half.keras")
    assert resumed.optimizer.iterations == 2
    for xb, yb in batches[2:]:
        resumed.train_on_batch(xb, yb)
    _assert_same_weights(straight, resumed)
    # without the optimizer state (a fresh optimizer on the same weights) the result differs
    fresh = td.models.load_model(tmp_path / "half.keras", compile=False)
    fresh.compile(make_optimizer(), "sparse_categorical_crossentropy", metrics=["accuracy"])
    for xb, yb in batches[2:]:
        fresh.train_on_batch(xb, yb)
    assert any(not np.array_equal(a, b) for a, b in zip(fresh.get_weights(), straight.get_weights(), strict=True))


def test_a_model_of_two_outputs_loads_with_its_losses_weights_and_metrics(tmp_path):
    if not (hasattr(td, "Model") and hasattr(td, "Input")):
        pytest.skip("td.Model / td.Input are not in this branch")
    td.set_seed(0)
    inputs = td.Input((3,))
    h = layers.Dense(8, activation="relu")(inputs)
    outputs = {"cls": layers.Dense(2, activation="softmax", name="cls")(h), "reg": layers.Dense(1, name="reg")(h)}
    model = td.Model(inputs, outputs)
    model.compile("adam", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.25}, metrics={"cls": ["accuracy"], "reg": ["mae"]})
    x, labels = _data()
    y = {"cls": labels, "reg": x[:, :1] * 2.0}
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    model.save(tmp_path / "two.keras")
    loaded = td.models.load_model(tmp_path / "two.keras")
    assert loaded.metrics_names == model.metrics_names == ["loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"]
    assert {k: type(v) for k, v in loaded.loss.items()} == {"cls": losses.SparseCategoricalCrossentropy,
                                                             "reg": losses.MeanSquaredError}
    assert loaded.get_compile_config() == model.get_compile_config()
    logs = model.evaluate(x, y, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["cls_loss"] + 0.25 * logs["reg_loss"])
    assert loaded.evaluate(x, y, return_dict=True) == logs


def test_a_model_compiled_without_a_loss_keeps_its_metric_names(tmp_path):
    model = _sequential()
    model.compile(optimizers.SGD(0.1), metrics=["mae"])       # its own train_step would compute the loss
    model.save(tmp_path / "m.keras")
    loaded = td.models.load_model(tmp_path / "m.keras")
    assert loaded.get_compile_config() == model.get_compile_config()
    assert loaded.get_compile_config()["metrics"] == ["mae"] and loaded.loss is None


def test_a_cnn_with_residual_blocks_round_trips(tmp_path):
    td.set_seed(1)
    model = td.Sequential([
        layers.Input((3, 8, 8)),
        layers.Conv2D(4, 3, padding="same", kernel_initializer=td.initializers.torch_default()),
        layers.Residual([layers.Conv2D(4, 3, padding=1), layers.BatchNormalization(), layers.ReLU()]),
        layers.Residual(layers.Conv2D(6, 3, strides=2, padding="same"), shortcut=layers.Conv2D(6, 1, strides=2)),
        layers.MaxPooling2D(2), layers.GlobalAveragePooling2D(), layers.Dense(3)])
    model.compile(optimizers.SGD(0.05, momentum=0.5), losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).normal(size=(4, 3, 8, 8)).astype(np.float32)
    model.train_on_batch(x, np.array([0, 1, 2, 0]))
    model.save(tmp_path / "cnn.keras")
    loaded = td.models.load_model(tmp_path / "cnn.keras")
    _assert_same_weights(model, loaded)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.loss.from_logits


def test_a_float64_model_stays_float64(tmp_path):
    model = td.Sequential([layers.Dense(4), layers.Dense(2)])
    model.predict(np.zeros((1, 3)))
    model.save(tmp_path / "f64.keras")
    loaded = td.models.load_model(tmp_path / "f64.keras")
    assert all(w.dtype == np.float64 for w in loaded.get_weights())
    _assert_same_weights(model, loaded)


def test_an_uncompiled_model_loads_uncompiled(tmp_path):
    model = _sequential()
    model.save(tmp_path / "m.keras")
    loaded = td.models.load_model(tmp_path / "m.keras")
    assert loaded.optimizer is None
    _assert_same_weights(model, loaded)
    compiled = _compiled("sequential")
    compiled.save(tmp_path / "c.keras")
    assert td.models.load_model(tmp_path / "c.keras", compile=False).optimizer is None


def test_a_custom_layer_loads_with_custom_objects(tmp_path):
    class Double(layers.Layer):
        def call(self, x, training=False):
            return x * 2

        def backward(self, dout):
            return dout * 2

    model = td.Sequential([layers.Input((3,)), layers.Dense(2), Double()])
    model.save(tmp_path / "custom.keras")
    with pytest.raises(ValueError, match=r"unknown layer class 'Double'.*custom_objects"):
        td.models.load_model(tmp_path / "custom.keras")
    loaded = td.models.load_model(tmp_path / "custom.keras", custom_objects={"Double": Double})
    x, _ = _data(4)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    with saving.custom_object_scope({"Double": Double}):
        assert isinstance(td.models.load_model(tmp_path / "custom.keras").layers[-1], Double)


def test_a_plain_function_as_learning_rate_cannot_be_saved(tmp_path):
    model = _compiled("sequential", optimizers.SGD(lambda step: 0.1))
    with pytest.raises(ValueError, match="plain function cannot be saved"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def test_load_weights_reads_the_weights_of_a_keras_file(tmp_path):
    a, b = _compiled("sequential"), _sequential()
    a.train_on_batch(*_data())
    a.save(tmp_path / "a.keras")
    b.load_weights(tmp_path / "a.keras")
    _assert_same_weights(a, b)


# -- file names ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["m.h5", "m.hdf5", "m.weights.h5", "m.pt", "m.pth", "m.onnx", "m.npz", "m"])
def test_save_refuses_a_name_that_promises_another_format(name, tmp_path):
    with pytest.raises(ValueError, match=r"must end in '\.keras'.*'\.npz'"):
        _sequential().save(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["w.h5", "w.weights.h5", "w.pt", "w.pth", "w.onnx", "w.keras", "w"])
def test_save_weights_refuses_a_name_that_promises_another_format(name, tmp_path):
    with pytest.raises(ValueError, match=r"must end in '\.npz'.*'\.keras'"):
        _sequential().save_weights(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


# -- refused files: a clear message, nothing loaded ----------------------------------------------
@pytest.fixture
def saved(tmp_path):
    model = _compiled("sequential")
    model.train_on_batch(*_data())
    path = tmp_path / "good.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    return model, path, members


def _rewrite(path, members, **changes):
    out = {**members, **changes}
    with zipfile.ZipFile(path, "w") as z:
        for name, data in out.items():
            if data is not None:
                z.writestr(name, data)
    return path


def _npz(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_a_text_file_is_refused(tmp_path):
    path = tmp_path / "notes.keras"
    path.write_text("hello, this is not a model\n")
    with pytest.raises(ValueError, match=r"not a tinydl model archive.*expected a zip archive, found text"):
        td.models.load_model(path)


def test_an_npz_weights_file_is_refused_with_a_hint(tmp_path):
    _sequential().save_weights(tmp_path / "w.npz")
    with pytest.raises(ValueError, match=r"holds no config.json.*load_weights"):
        td.models.load_model(tmp_path / "w.npz")


def test_a_zip_without_config_is_refused(saved, tmp_path):
    _, _, members = saved
    path = _rewrite(tmp_path / "bad.keras", members, **{"config.json": None})
    with pytest.raises(ValueError, match="holds no config.json"):
        td.models.load_model(path)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9, 0.99])
def test_a_truncated_archive_is_refused(saved, tmp_path, keep):
    _, path, _ = saved
    data = path.read_bytes()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(ValueError, match=r"damaged archive \(truncated or corrupted\)"):
        td.models.load_model(cut)


def test_a_corrupted_member_is_refused(saved, tmp_path):
    _, path, _ = saved
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("model.weights.npz")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 40
    data[start:start + 8] = b"\x00" * 8
    bad = tmp_path / "bad.keras"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged"):
        td.models.load_model(bad)


def test_an_unknown_layer_is_refused(saved, tmp_path):
    _, _, members = saved
    config = json.loads(members["config.json"])
    config["config"]["layers"][2]["class_name"] = "FancyNorm"
    path = _rewrite(tmp_path / "bad.keras", members, **{"config.json": json.dumps(config)})
    with pytest.raises(ValueError, match=r"unknown layer class 'FancyNorm'.*custom_objects"):
        td.models.load_model(path)


def test_a_config_with_a_wrong_argument_is_refused(saved, tmp_path):
    _, _, members = saved
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["config"]["unitz"] = config["config"]["layers"][1]["config"].pop("units")
    path = _rewrite(tmp_path / "bad.keras", members, **{"config.json": json.dumps(config)})
    with pytest.raises(ValueError, match=r"does not build a model \(TypeError: .*unitz"):
        td.models.load_model(path)


def test_a_foreign_json_is_refused(saved, tmp_path):
    _, _, members = saved
    keras_like = {"class_name": "Sequential", "config": {}, "module": "keras"}
    path = _rewrite(tmp_path / "bad.keras", members, **{"config.json": json.dumps(keras_like)})
    with pytest.raises(ValueError, match="not a tinydl model archive"):
        td.models.load_model(path)
    path = _rewrite(tmp_path / "bad2.keras", members, **{"config.json": b"{not json"})
    with pytest.raises(ValueError, match="not valid JSON"):
        td.models.load_model(path)


def _weights_of(members):
    with np.load(io.BytesIO(members["model.weights.npz"])) as w:
        return {k: w[k] for k in w.files}


@pytest.mark.parametrize("change, message", [
    (lambda w: {k: v for k, v in w.items() if k != "w0007"}, "holds 7 weight arrays; the model has 8"),
    (lambda w: {**w, "w0000": np.zeros((4, 8), np.float32)}, r"weight 0 \('dense\w*/kernel'\) has shape \(4, 8\)"),
    (lambda w: {**w, "w0001": w["w0001"].astype(np.float64)}, "has dtype float64 in the file; expected float32"),
    (lambda w: {**w, "w0001": np.array(["a"] * 8)}, "has dtype <U1"),
])
def test_wrong_weights_are_refused(saved, tmp_path, change, message):
    _, _, members = saved
    path = _rewrite(tmp_path / "bad.keras", members, **{"model.weights.npz": _npz(change(_weights_of(members)))})
    with pytest.raises(ValueError, match=message):
        td.models.load_model(path)


def test_a_pickled_array_is_refused(saved, tmp_path):
    _, _, members = saved
    w = _weights_of(members)
    buf = io.BytesIO()
    np.savez(buf, **{**w, "w0000": np.array([{"x": 1}], dtype=object)})
    path = _rewrite(tmp_path / "bad.keras", members, **{"model.weights.npz": buf.getvalue()})
    with pytest.raises(ValueError, match="Python objects"):
        td.models.load_model(path)


def test_an_array_declaring_more_data_than_it_holds_is_refused(saved, tmp_path):
    # a 1 TiB shape in a 100-byte member: refused from its header, before any allocation
    _, _, members = saved
    raw = io.BytesIO()
    np.lib.format.write_array_header_1_0(raw, {"descr": "<f4", "fortran_order": False, "shape": (2**38,)})
    w = _weights_of(members)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in w.items():
            arr = io.BytesIO()
            np.lib.format.write_array(arr, v)
            z.writestr(f"{k}.npy", raw.getvalue() + b"\0" * 100 if k == "w0000" else arr.getvalue())
    path = _rewrite(tmp_path / "bad.keras", members, **{"model.weights.npz": buf.getvalue()})
    with pytest.raises(ValueError, match=r"declares \(274877906944,\) float32"):
        td.models.load_model(path)


def test_wrong_optimizer_state_is_refused(saved, tmp_path):
    _, _, members = saved
    with np.load(io.BytesIO(members["optimizer.weights.npz"])) as s:
        state = {k: s[k] for k in s.files}
    state["0.m"] = np.zeros((2, 2), np.float32)
    path = _rewrite(tmp_path / "bad.keras", members, **{"optimizer.weights.npz": _npz(state)})
    with pytest.raises(ValueError, match=r"optimizer state '0.m' is float32\(2, 2\)"):
        td.models.load_model(path)
    state.pop("0.m")
    state["99.m"] = np.zeros(3, np.float32)
    path = _rewrite(tmp_path / "bad2.keras", members, **{"optimizer.weights.npz": _npz(state)})
    with pytest.raises(ValueError, match="names no weight"):
        td.models.load_model(path)


# -- load_weights: every array checked before any is assigned ------------------------------------
@pytest.mark.parametrize("arrays, message", [
    (lambda w: {**w, "w0003": np.array(["x"] * 8)}, "dtype <U1"),
    (lambda w: {**w, "w0005": np.zeros((7, 2), np.float32)}, "shape"),
    (lambda w: {k: v for k, v in w.items() if k != "w0002"}, "holds 7 weight arrays"),
])
def test_load_weights_refuses_and_leaves_the_model_unchanged(tmp_path, arrays, message):
    source, target = _sequential(), _sequential()
    target.build()
    source.save_weights(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz") as data:
        w = {k: data[k] for k in data.files if k.startswith("w")}
    (tmp_path / "bad.npz").write_bytes(_npz(arrays(w)))
    before = target.get_weights()
    assert len(before) == 8
    with pytest.raises(ValueError, match=message):
        target.load_weights(tmp_path / "bad.npz")
    for a, b in zip(before, target.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_load_weights_of_a_text_file_says_what_it_found(tmp_path):
    (tmp_path / "w.npz").write_text("weights: 1 2 3\n")
    with pytest.raises(ValueError, match="not a tinydl weights file.*found text"):
        _sequential().load_weights(tmp_path / "w.npz")
