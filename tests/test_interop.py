"""td.interop: weights both ways between tinydl and PyTorch, outputs equal in float64."""
import numpy as np
import pytest

import tinydl as td
from tinydl import interop, layers

torch = pytest.importorskip("torch")
nn = torch.nn
pytestmark = pytest.mark.torch


def _cnn():
    return td.Sequential([
        layers.Input((3, 12, 12)),
        layers.Conv2D(6, 3, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(2),
        layers.Conv2D(8, 2, strides=2, padding="same"),      # Keras's 'same' pads one more after
        layers.LeakyReLU(0.2),
        layers.AveragePooling2D(1),
        layers.Residual([layers.Conv2D(8, 3, padding="same"), layers.Tanh()]),
        layers.GlobalAveragePooling2D(),
        layers.Dense(16, activation="gelu"),
        layers.Dropout(0.5),
        layers.Dense(5, activation="softmax"),
    ])


def _torch_cnn():
    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(8, 8, 3, padding=1)

        def forward(self, x):
            return x + torch.tanh(self.conv(x))
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(6, eps=1e-3), nn.MaxPool2d(2),
        nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(6, 8, 2, stride=2), nn.LeakyReLU(0.2), nn.AvgPool2d(1),
        Res(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 16), nn.GELU(), nn.Dropout(0.5),
        nn.Linear(16, 5), nn.Softmax(dim=-1)).double()


def _randomize_bn(net):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def test_from_torch_cnn_outputs_equal():
    torch.manual_seed(0)
    net = _torch_cnn().eval()
    _randomize_bn(net)
    model = _cnn()
    model.build(dtype=np.float64)
    interop.from_torch(model, net)
    x = _x((4, 3, 12, 12))
    want = net(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-10, atol=1e-13)


def test_to_torch_cnn_outputs_equal():
    td.set_seed(3)
    model = _cnn()
    model.build(dtype=np.float64)
    bn = model.layers[1]
    bn.set_weights([np.linspace(0.5, 1.5, 6), np.linspace(-1, 1, 6), np.linspace(-0.3, 0.3, 6), np.linspace(0.5, 2, 6)])
    net = interop.to_torch(model)
    assert not net.training
    x = _x((4, 3, 12, 12), 1)
    got = net(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, model.predict(x), rtol=1e-10, atol=1e-13)
    # and back: a fresh model takes the torch copy's weights and gives the same outputs
    fresh = _cnn()
    fresh.build(dtype=np.float64)
    interop.from_torch(fresh, net)
    np.testing.assert_allclose(fresh.predict(x), model.predict(x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_and_layernorm_both_ways(causal):
    td.set_seed(1)
    model = td.Sequential([layers.Input((5, 8)), layers.LayerNormalization(),
                           layers.MultiHeadAttention(2, 4, use_causal_mask=causal),
                           layers.Dense(3), layers.Flatten(), layers.Dense(2)])
    model.build(dtype=np.float64)
    x = _x((3, 5, 8), 2)
    net = interop.to_torch(model)
    np.testing.assert_allclose(net(torch.from_numpy(x)).detach().numpy(), model.predict(x), rtol=1e-10, atol=1e-13)
    # torch -> tinydl: torch's own random weights (biases too), through a fresh model
    torch.manual_seed(5)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.3)
    fresh = td.Sequential([layers.Input((5, 8)), layers.LayerNormalization(),
                           layers.MultiHeadAttention(2, 4, use_causal_mask=causal),
                           layers.Dense(3), layers.Flatten(), layers.Dense(2)])
    fresh.build(dtype=np.float64)
    interop.from_torch(fresh, net)
    np.testing.assert_allclose(fresh.predict(x), net(torch.from_numpy(x)).detach().numpy(), rtol=1e-10, atol=1e-13)


def test_float32_model_gives_a_float32_module():
    model = td.Sequential([layers.Input((4,)), layers.Dense(3, activation="sigmoid"), layers.BatchNormalization()])
    net = interop.to_torch(model)
    assert next(net.parameters()).dtype == torch.float32 and isinstance(net[2], nn.BatchNorm1d)
    x = _x((6, 4)).astype(np.float32)
    np.testing.assert_allclose(net(torch.from_numpy(x)).detach().numpy(), model.predict(x), rtol=1e-5, atol=1e-6)


def test_mismatches_are_named():
    model = td.Sequential([layers.Input((4,)), layers.Dense(3)])
    with pytest.raises(ValueError, match=r"1 layers with weights \(Dense\); the torch module has 2"):
        interop.from_torch(model, nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 3)))
    with pytest.raises(ValueError, match=r"shapes \[\(4, 3\), \(3,\)\]; torch's Linear gives \[\(5, 3\), \(3,\)\]"):
        interop.from_torch(model, nn.Linear(5, 3))
    with pytest.raises(TypeError, match="cannot take the weights of torch's Conv2d"):
        interop.from_torch(model, nn.Conv2d(4, 3, 1))
    with pytest.raises(TypeError, match="Embedding.*no layer for"):
        interop.from_torch(model, nn.Sequential(nn.Embedding(4, 3)))
    pooled = td.Sequential([layers.Input((1, 4, 4)), layers.MaxPooling2D(3, padding="same")])
    with pytest.raises(NotImplementedError, match="padding='same'"):
        interop.to_torch(pooled)
