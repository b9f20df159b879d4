"""Embedding layer: shapes, Keras's defaults, gradcheck, PyTorch parity, a model that trains."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers


def rebuilt(layer):
    """The layer made again from its config (Layer.from_config where the base class has it)."""
    cfg = layer.get_config()
    make = getattr(type(layer), "from_config", None)
    return make(cfg) if make else type(layer)(**cfg)



def test_shapes_and_lookup():
    layer = layers.Embedding(10, 4)
    ids = np.array([[1, 2, 3], [9, 0, 1]])
    out = layer(ids)
    assert out.shape == (2, 3, 4) == (2,) + layer.compute_output_shape((3,)) and out.dtype == np.float32
    table = layer.embeddings.value
    np.testing.assert_array_equal(out, table[ids])
    assert np.abs(table).max() <= 0.05 and layer.count_params() == 40     # Keras's "uniform"


def test_gradcheck_float64_and_repeats():
    layer = layers.Embedding(5, 3, dtype="float64")
    ids = np.array([[0, 4, 4], [1, 4, 0]])
    assert td.gradcheck(layer, ids)
    layer.zero_grad()
    layer(ids)
    assert layer.backward(np.ones((2, 3, 3))) is None
    np.testing.assert_array_equal(layer.embeddings.grad[:, 0], [2, 1, 0, 0, 3])


@pytest.mark.torch
def test_torch_parity():
    torch = pytest.importorskip("torch")
    layer = layers.Embedding(7, 5, dtype="float64")
    ids = np.random.default_rng(0).integers(0, 7, size=(3, 8))
    out = layer(ids)
    dout = np.random.default_rng(1).normal(size=out.shape)
    layer.backward(dout)
    t = torch.nn.Embedding(7, 5).double()
    t.weight.data = torch.tensor(layer.embeddings.value)
    tout = t(torch.tensor(ids))
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(layer.embeddings.grad, t.weight.grad.numpy(), rtol=1e-12)


def test_out_of_range_id_is_refused():
    with pytest.raises(ValueError, match=r"\[0, 3\).*3"):
        layers.Embedding(3, 2)(np.array([[0, 3]]))


@pytest.mark.parametrize("kwargs,received", [(dict(input_dim=0, output_dim=2), "input_dim=0"),
                                             (dict(input_dim=3, output_dim=2.0), "output_dim=2.0"),
                                             (dict(input_dim=3, output_dim=2, dtype="int32"), "dtype='int32'")])
def test_bad_arguments(kwargs, received):
    with pytest.raises(ValueError, match="Received") as err:
        layers.Embedding(**kwargs)
    assert received in str(err.value)


def test_config_round_trip():
    cfg = layers.Embedding(np.int64(6), 3, name="e").get_config()
    assert {k: cfg[k] for k in ("name", "input_dim", "output_dim", "dtype", "embeddings_initializer")} == \
        {"name": "e", "input_dim": 6, "output_dim": 3, "dtype": "float32", "embeddings_initializer": "uniform"}
    again = rebuilt(layers.Embedding(6, 3, dtype="float64"))
    assert again.input_dim == 6 and again(np.array([[1]])).dtype == np.float64


def test_a_model_learns_through_the_embedding():
    # the class is the parity of the id: embed -> flatten -> dense
    td.set_seed(0)
    ids = np.random.default_rng(0).integers(0, 8, size=(64, 1))
    y = ids[:, 0] % 2
    model = td.Sequential([layers.Embedding(8, 4), layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=td.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(ids, y, epochs=30, batch_size=16, verbose=0)
    assert hist.history["accuracy"][-1] == 1.0
