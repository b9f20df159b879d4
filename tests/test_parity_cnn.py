"""A whole network against PyTorch: the reference CNN's architecture (smaller widths), the same
weights, float64, dropout off: the loss and every gradient of one step must agree."""
import numpy as np
import pytest

import tinydl as td
from tinydl import layers

torch = pytest.importorskip("torch")
nn = torch.nn


def build_pair(channels=(8, 16, 32, 64), hidden=(64, 32)):
    model = td.Sequential([layers.Input((3, 32, 32))])
    mods, c_in = [], 3
    for c in channels:
        model.add(layers.Conv2D(c, 3, padding="same"))
        model.add(layers.BatchNormalization())
        model.add(layers.ReLU())
        model.add(layers.MaxPooling2D(2))
        mods += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c, eps=1e-3, momentum=0.01), nn.ReLU(),
                 nn.MaxPool2d(2)]
        c_in = c
    model.add(layers.Flatten())
    mods.append(nn.Flatten())
    width = c_in * 2 * 2
    for h in hidden:
        model.add(layers.Dense(h, activation="relu"))
        model.add(layers.Dropout(0.0))
        mods += [nn.Linear(width, h), nn.ReLU()]
        width = h
    model.add(layers.Dense(10))
    mods.append(nn.Linear(width, 10))
    net = nn.Sequential(*mods).double().train()
    model.build(dtype=np.float64)
    # copy torch's weights into tinydl (Dense kernels are (in, units): transpose)
    arrays = []
    for m in net:
        if isinstance(m, nn.Conv2d):
            arrays += [m.weight.detach().numpy(), m.bias.detach().numpy()]
        elif isinstance(m, nn.BatchNorm2d):
            arrays += [m.weight.detach().numpy(), m.bias.detach().numpy(),
                       m.running_mean.numpy(), m.running_var.numpy()]
        elif isinstance(m, nn.Linear):
            arrays += [m.weight.detach().numpy().T, m.bias.detach().numpy()]
    model.set_weights(arrays)
    return model, net


def torch_grads(net):
    out = []
    for m in net:
        if isinstance(m, (nn.Conv2d, nn.BatchNorm2d)):
            out += [m.weight.grad.numpy(), m.bias.grad.numpy()]
        elif isinstance(m, nn.Linear):
            out += [m.weight.grad.numpy().T, m.bias.grad.numpy()]
    return out


@pytest.mark.parametrize("dev", ["reference", "cpu"])
def test_one_step_of_the_reference_cnn_matches_pytorch(dev):
    torch.manual_seed(0)
    model, net = build_pair()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3, 32, 32))
    y = rng.integers(0, 10, 6)
    loss_fn = td.losses.SparseCategoricalCrossentropy(from_logits=True)
    with td.device.using(dev):
        model.zero_grad()
        loss = loss_fn(y, model.forward(x, training=True))
        model.backward(loss_fn.backward())
    t_loss = nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-10)
    ours = [td.to_numpy(p.grad) for p in model.trainable_weights]
    theirs = torch_grads(net)
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10, err_msg=f"gradient {i}: {model.trainable_weights[i].name}")
