"""The named models of the command line: builders returning an uncompiled Sequential."""
import tinydl as td
from tinydl import initializers, layers


def seed_cnn(classes=10):
    """The reference CNN: four [Conv 3x3 same, BN, ReLU, MaxPool 2] blocks (64..512 channels),
    then Dense 1024 and 512 with dropout 0.5, then the logits.

    Weights start from PyTorch's default, U(+-1/sqrt(fan_in)), not Keras's Glorot: with Glorot
    this network sat at chance (loss ln 10) for the first epochs on shapes10, while the same
    network from PyTorch's initial weights learned at once (measured: loss 2.37 -> 1.85 in three
    short epochs; Glorot 2.94 -> 2.29)."""
    init = initializers.torch_default()
    model = td.Sequential([layers.Input((3, 32, 32))], name="seed_cnn")
    for c in (64, 128, 256, 512):
        for layer in (layers.Conv2D(c, 3, padding="same", kernel_initializer=init), layers.BatchNormalization(),
                      layers.ReLU(), layers.MaxPooling2D(2)):
            model.add(layer)
    for layer in (layers.Flatten(), layers.Dense(1024, activation="relu", kernel_initializer=init),
                  layers.Dropout(0.5), layers.Dense(512, activation="relu", kernel_initializer=init),
                  layers.Dropout(0.5), layers.Dense(classes, kernel_initializer=init)):
        model.add(layer)
    return model


def compact_cnn(classes=10):
    """The demo's network: three small conv blocks and global average pooling (~25k weights).
    Batch norm's moving statistics use momentum 0.9 (not Keras's 0.99): a short demo run takes
    only a few hundred steps, too few for 0.99 to forget the initial statistics."""
    model = td.Sequential([layers.Input((3, 32, 32))], name="compact_cnn")
    for c, pool in ((16, True), (32, True), (64, False)):
        model.add(layers.Conv2D(c, 3, padding="same", use_bias=False))
        model.add(layers.BatchNormalization(momentum=0.9))
        model.add(layers.ReLU())
        if pool:
            model.add(layers.MaxPooling2D(2))
    model.add(layers.GlobalAveragePooling2D())
    model.add(layers.Dense(classes))
    return model


def small_cnn(classes=10):
    """The MNIST-sized CNN of the speed benchmark (issue 10): (1, 28, 28) -> Conv2D(16, 3, same) +
    ReLU + MaxPool 2 -> Conv2D(32, 3, same) + ReLU + MaxPool 2 -> Dense(64, relu) -> Dense(classes)."""
    return td.Sequential([layers.Input((1, 28, 28)),
                          layers.Conv2D(16, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
                          layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
                          layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(classes)],
                         name="small_cnn")


def mlp_784(classes=10):
    """The MLP of the speed benchmark: 784 -> 512 -> 512 -> classes on flat MNIST-sized vectors."""
    return td.Sequential([layers.Input((784,)), layers.Dense(512, activation="relu"),
                          layers.Dense(512, activation="relu"), layers.Dense(classes)], name="mlp_784")


def mlp(classes=10):
    return td.Sequential([layers.Input((3, 32, 32)), layers.Flatten(), layers.Dense(512, activation="relu"),
                          layers.Dense(256, activation="relu"), layers.Dense(classes)], name="mlp")


def linear(classes=10):
    """A linear softmax classifier on raw pixels: the baseline a CNN must beat."""
    return td.Sequential([layers.Input((3, 32, 32)), layers.Flatten(), layers.Dense(classes)], name="linear")


def vit_tiny(classes=10):
    """A small Vision Transformer: 4x4 patches, 2 pre-norm blocks of width 64, 4 heads."""
    embed, heads = 64, 4
    model = td.Sequential([layers.Input((3, 32, 32)), layers.PatchEmbedding(4, embed),
                           layers.ClassToken(), layers.PositionalEmbedding(65)], name="vit_tiny")
    for _ in range(2):
        model.add(layers.Residual([layers.LayerNormalization(), layers.MultiHeadAttention(heads, embed // heads)]))
        model.add(layers.Residual([layers.LayerNormalization(), layers.Dense(2 * embed, activation="gelu"),
                                   layers.Dense(embed)]))
    model.add(layers.LayerNormalization())
    model.add(layers.SequencePooling("cls"))
    model.add(layers.Dense(classes))
    return model


MODELS = {"seed-cnn": seed_cnn, "compact-cnn": compact_cnn, "mlp": mlp, "linear": linear, "vit-tiny": vit_tiny,
          "small-cnn": small_cnn, "mlp-784": mlp_784}


def get(name, classes=10):
    if name not in MODELS:
        raise ValueError(f"unknown model; expected one of {sorted(MODELS)}; received {name!r}")
    return MODELS[name](classes)
