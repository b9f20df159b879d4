"""The benchmark's four workloads: the tinydl zoo model and its PyTorch twin, batch and data.

Each twin is the same network as the zoo builder (layer for layer, the same shapes, Keras's
batch-norm and layer-norm epsilon 1e-3, exact GELU), trained with the same loss (softmax
cross-entropy from logits, mean over the batch) and the same optimizer (Adam, lr 1e-3,
epsilon 1e-7). Weights start from each framework's own initializer: the arithmetic of a step
does not depend on the values.
"""
import numpy as np

# name -> (zoo model, batch, input shape)
WORKLOADS = {
    "small-cnn": ("small-cnn", 64, (1, 28, 28)),
    "seed-cnn": ("seed-cnn", 128, (3, 32, 32)),
    "vit-tiny": ("vit-tiny", 64, (3, 32, 32)),
    "mlp": ("mlp-784", 256, (784,)),
}
LABELS = {
    "small-cnn": "small CNN (1, 28, 28), batch 64",
    "seed-cnn": "seed CNN (3, 32, 32), batch 128",
    "vit-tiny": "ViT-tiny (3, 32, 32), batch 64",
    "mlp": "MLP 784-512-512-10, batch 256",
}


def batch(name, seed=0):
    _, n, shape = WORKLOADS[name]
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)).astype(np.float32), rng.integers(0, 10, n).astype(np.int64)


def tinydl_model(name):
    """The compiled zoo model of workload ``name``."""
    import tinydl as td
    from tinydl import zoo

    td.set_seed(0)
    model = zoo.get(WORKLOADS[name][0])
    model.compile(optimizer=td.optimizers.Adam(1e-3, epsilon=1e-7),
                  loss=td.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def tinydl_step(name, x, y):
    model = tinydl_model(name)
    return lambda: model.train_on_batch(x, y)


# -- the PyTorch twins ---------------------------------------------------------------------------
def _small_cnn(nn):
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))


def _seed_cnn(nn):
    mods, c_in = [], 3
    for c in (64, 128, 256, 512):
        # Keras's BN defaults: momentum 0.99 (PyTorch's 0.01), epsilon 1e-3
        mods += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c, eps=1e-3, momentum=0.01), nn.ReLU(),
                 nn.MaxPool2d(2)]
        c_in = c
    mods += [nn.Flatten(), nn.Linear(512 * 2 * 2, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 512),
             nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10)]
    return nn.Sequential(*mods)


def _mlp(nn):
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def _vit_tiny(torch, nn):
    """Patch 4 (a stride-4 convolution: the same linear map of each flattened patch), class token,
    learned positions, 2 pre-norm blocks (4 heads, MLP 128 GELU), final norm, class-token logits."""
    E = 64

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(E, eps=1e-3), nn.LayerNorm(E, eps=1e-3)
            self.attn = nn.MultiheadAttention(E, 4, batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(E, 2 * E), nn.GELU(), nn.Linear(2 * E, E))

        def forward(self, x):
            h = self.ln1(x)
            x = x + self.attn(h, h, h, need_weights=False)[0]
            return x + self.mlp(self.ln2(x))

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = nn.Conv2d(3, E, 4, stride=4)
            self.cls = nn.Parameter(torch.zeros(1, 1, E))
            self.pos = nn.Parameter(torch.randn(1, 65, E) * 0.02)
            self.blocks = nn.Sequential(Block(), Block())
            self.ln = nn.LayerNorm(E, eps=1e-3)
            self.head = nn.Linear(E, 10)

        def forward(self, x):
            x = self.patch(x).flatten(2).transpose(1, 2)                 # (N, 64, E)
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
            return self.head(self.ln(self.blocks(x))[:, 0])
    return ViT()


def torch_model(name):
    import torch
    from torch import nn

    torch.manual_seed(0)
    build = {"small-cnn": _small_cnn, "seed-cnn": _seed_cnn, "mlp": _mlp}.get(name)
    return (build(nn) if build else _vit_tiny(torch, nn)).train()


def torch_step(name, x, y):
    import torch

    net = torch_model(name)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xt), yt)
        loss.backward()
        opt.step()
        return float(loss.detach())
    return step
