"""RandomFlip and RandomCrop: augmentation only when training, seeded, the gradient through the
same flip/crop, Keras's center crop at inference, bad arguments."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers


def rebuilt(layer):
    """The layer made again from its config (Layer.from_config where the base class has it)."""
    cfg = layer.get_config()
    make = getattr(type(layer), "from_config", None)
    return make(cfg) if make else type(layer)(**cfg)



def images(n=8, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2, 5, 6))


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_flip_is_the_identity_at_inference(mode):
    x = images()
    layer = layers.RandomFlip(mode)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)


@pytest.mark.parametrize("mode,allowed", [("horizontal", {"none", "h"}), ("vertical", {"none", "v"}),
                                          ("horizontal_and_vertical", {"none", "h", "v", "hv"})])
def test_flip_when_training_uses_only_its_mode(mode, allowed):
    x = images(64)
    out = layers.RandomFlip(mode, seed=1)(x, training=True)
    seen = set()
    for a, b in zip(x, out, strict=True):
        kinds = {"none": a, "h": a[:, :, ::-1], "v": a[:, ::-1, :], "hv": a[:, ::-1, ::-1]}
        seen |= {k for k, v in kinds.items() if np.array_equal(v, b)}
    assert seen == allowed                               # 64 images: every allowed flip occurs


def test_flip_gradient_goes_through_the_same_flip():
    x = images()
    layer = layers.RandomFlip(seed=3)
    out = layer(x, training=True)
    dx = layer.backward(out)                             # flipping the output back gives x
    np.testing.assert_array_equal(dx, x)
    # (each training call draws new flips, so finite differences run on the ops:
    # tests/ops/test_augmentation.py)


def test_seed_repeats_and_set_seed_repeats():
    x = images()
    a = layers.RandomFlip(seed=7)(x, training=True)
    b = layers.RandomFlip(seed=7)(x, training=True)
    np.testing.assert_array_equal(a, b)
    td.set_seed(3)
    c = layers.RandomCrop(3, 4)(x, training=True)
    td.set_seed(3)
    np.testing.assert_array_equal(layers.RandomCrop(3, 4)(x, training=True), c)


def test_crop_at_inference_is_the_center_crop():
    x = images()
    layer = layers.RandomCrop(3, 2)
    out = layer(x)
    np.testing.assert_array_equal(out, x[:, :, 1:4, 2:4])          # (5-3)//2 = 1, (6-2)//2 = 2
    assert out.shape[1:] == layer.compute_output_shape((2, 5, 6))


def test_crop_when_training_takes_windows_of_the_image():
    x = images(32)
    layer = layers.RandomCrop(3, 4, seed=0)
    out = layer(x, training=True)
    offsets = set()
    for a, b in zip(x, out, strict=True):
        hits = [(t, s) for t in range(3) for s in range(3) if np.array_equal(a[:, t:t + 3, s:s + 4], b)]
        assert len(hits) == 1
        offsets |= set(hits)
    assert len(offsets) > 3                                        # the windows really vary
    dx = layer.backward(np.ones_like(out))
    assert dx.shape == x.shape and dx.sum() == out.size          # each output element sends 1 back
    assert td.gradcheck(layers.RandomCrop(3, 4), x[:3], training=False)     # the center crop


@pytest.mark.parametrize("call,received", [
    (lambda: layers.RandomFlip("diagonal"), "mode='diagonal'"),
    (lambda: layers.RandomFlip(seed=-1), "seed=-1"),
    (lambda: layers.RandomCrop(0, 3), "height=0"),
    (lambda: layers.RandomCrop(3, 2.5), "width=2.5"),
])
def test_bad_arguments(call, received):
    with pytest.raises(ValueError, match="Received") as err:
        call()
    assert received in str(err.value)


def test_crop_larger_than_the_image_is_refused():
    with pytest.raises(ValueError, match=r"\(6, 2\) must fit"):
        layers.RandomCrop(6, 2)(images())


def test_configs_round_trip():
    for layer in (layers.RandomFlip("vertical", seed=3, name="f"), layers.RandomCrop(3, 4, name="c")):
        assert rebuilt(layer).get_config() == layer.get_config()


def test_a_model_trains_with_augmentation_and_predicts_without():
    td.set_seed(0)
    x = images(32).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 2, size=32)
    model = td.Sequential([layers.RandomFlip("horizontal"), layers.RandomCrop(4, 4), layers.Flatten(),
                           layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
