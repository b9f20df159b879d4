"""The new layers on the 'cuda' device against the same layers on 'cpu' (tiny shapes): device
arrays flow through their call/backward and their weights' gradients."""
import numpy as np
import pytest
from helpers import assert_close

import tinydl as td
from tinydl import device, layers

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not device.cuda_available(), reason="no GPU and no CUDA simulator")]

CASES = [
    (lambda: layers.Conv2DTranspose(2, 3, strides=2, padding="same"), (2, 3, 3, 4)),
    (lambda: layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2), (2, 2, 4, 5)),
    (lambda: layers.SeparableConv2D(3, 2), (1, 2, 4, 4)),
    (lambda: layers.Conv1D(2, 3, padding="causal"), (2, 3, 6)),
    (lambda: layers.UpSampling2D((2, 1)), (1, 2, 3, 3)),
    (lambda: layers.GlobalMaxPooling2D(), (2, 3, 3, 4)),
    (lambda: layers.Reshape((-1, 2)), (2, 3, 4)),
    (lambda: layers.Activation("selu"), (2, 5)),
    (lambda: layers.RandomCrop(2, 3), (2, 1, 4, 5)),
    (lambda: layers.RandomFlip(seed=0), (2, 1, 3, 3)),
]


def _run(make, x, dev, training):
    td.set_seed(0)
    layer = make()
    with device.using(dev):
        out = layer(x, training=training)
        dout = np.random.default_rng(1).standard_normal(out.shape)
        dx = layer.backward(device.to_device(dout, dev))
        return out, dx, [p.grad for p in layer.trainable_weights]


@pytest.mark.parametrize("make,shape", CASES)
def test_layer_on_cuda_matches_cpu(make, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    for training in (False, True):
        got, want = _run(make, x, "cuda", training), _run(make, x, "cpu", training)
        assert_close(got[0], want[0])
        assert_close(got[1], want[1])
        for g, w in zip(got[2], want[2], strict=True):
            assert_close(g, w)


def test_embedding_on_cuda_matches_cpu():
    ids = np.array([[0, 3, 3], [1, 0, 3]])
    got, want = (_run(lambda: layers.Embedding(4, 5, dtype="float64"), ids, dev, True) for dev in ("cuda", "cpu"))
    assert_close(got[0], want[0])
    assert got[1] is None and want[1] is None
    assert_close(got[2][0], want[2][0])
