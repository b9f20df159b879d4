"""td.onnx.export checked by onnxruntime: the exported graph's outputs equal model.predict.
Skipped without onnx and onnxruntime (extra tinydl[onnx])."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _run(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input"] and sess.get_outputs()[0].name == "output"
    return sess.run(None, {"input": x})[0]


def test_cnn_matches_predict(tmp_path):
    td.set_seed(0)
    model = td.Sequential([
        layers.Input((3, 11, 11)),
        layers.Conv2D(6, 3, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(2, padding="same"),                 # 11 -> 6, padded after
        layers.Conv2D(8, 2, strides=2, padding="same"),
        layers.LeakyReLU(0.2),
        layers.AveragePooling2D(2, strides=1, padding="same"),  # the padded cells not counted
        layers.Residual([layers.Conv2D(8, 3, padding="same"), layers.Tanh()]),
        layers.GlobalAveragePooling2D(),
        layers.Dense(16, activation="gelu"),
        layers.Dropout(0.5),
        layers.Dense(5, activation="softmax"),
    ])
    model.build()
    model.layers[1].set_weights([np.linspace(0.5, 1.5, 6), np.linspace(-1, 1, 6), np.linspace(-0.3, 0.3, 6),
                                 np.linspace(0.5, 2, 6)])
    path = td.onnx.export(model, tmp_path / "cnn.onnx")
    x = np.random.default_rng(0).normal(size=(4, 3, 11, 11)).astype(np.float32)
    np.testing.assert_allclose(_run(path, x), model.predict(x), rtol=1e-5, atol=1e-6)
    # the batch axis is free
    assert _run(path, x[:1]).shape == (1, 5)


def test_sequence_model_matches_predict(tmp_path):
    td.set_seed(1)
    model = td.Sequential([layers.Input((5, 8)), layers.LayerNormalization(), layers.Dense(6, activation="sigmoid"),
                           layers.Flatten(), layers.Dense(3)])
    path = td.onnx.export(model, tmp_path / "seq.onnx")
    x = np.random.default_rng(2).normal(size=(3, 5, 8)).astype(np.float32)
    np.testing.assert_allclose(_run(path, x), model.predict(x), rtol=1e-5, atol=1e-6)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == ["N", 5, 8]


def test_unsupported_layer_is_named(tmp_path):
    model = td.Sequential([layers.Input((4, 8)), layers.MultiHeadAttention(2, 4)])
    with pytest.raises(NotImplementedError, match="MultiHeadAttention"):
        td.onnx.export(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
