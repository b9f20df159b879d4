"""A GAN in a custom training loop (no fit): an MLP generator learns a mixture of four Gaussians.

    D(x) = sigmoid(d(x)), d an MLP giving one logit
    discriminator: gradient ascent on  log D(x) + log(1 - D(G(z)))
                   = descent on BCE(D(x), 1) + BCE(D(G(z)), 0)
    generator:     descent on BCE(D(G(z)), 1)   (the non-saturating form of log(1 - D(G(z))))
                   its gradient dL/dG(z) comes from discriminator.backward, then flows into
                   generator.backward

Convergence is measured, not eyeballed: the mean distance from a generated point to its
nearest mode, and how many of the four modes receive at least 10% of the samples.

Measured (default 3000 steps, batch 128, about 3 s on the 2-core CI machine): the mean distance
to the nearest mode went from 2.68 to 0.38 (the modes' own spread is 0.2), with 3 of the 4 modes
holding at least 10% of the samples (2 before training).

Run:  python examples/gan.py [steps]
"""
import sys

import numpy as np

import tinydl as td
from tinydl import layers, losses, optimizers

MODES = np.array([[2.0, 2.0], [-2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]])
STD = 0.2


def sample_data(rng, n):
    return (MODES[rng.integers(0, len(MODES), n)] + rng.normal(0, STD, (n, 2))).astype(np.float32)


def build():
    generator = td.Sequential([layers.Input((2,)), layers.Dense(64, activation="relu"),
                               layers.Dense(64, activation="relu"), layers.Dense(2)])
    discriminator = td.Sequential([layers.Input((2,)), layers.Dense(64, activation="leaky_relu"),
                                   layers.Dense(64, activation="leaky_relu"), layers.Dense(1)])
    return generator, discriminator


def quality(generator, rng, n=2000):
    """(mean distance to the nearest mode, modes holding >= 10% of the samples)."""
    fake = generator.predict(rng.normal(size=(n, 2)).astype(np.float32), batch_size=n)
    dist = np.linalg.norm(fake[:, None, :] - MODES[None], axis=2)
    nearest = dist.argmin(axis=1)
    covered = int((np.bincount(nearest, minlength=len(MODES)) >= 0.1 * n).sum())
    return float(dist.min(axis=1).mean()), covered


def train(steps=3000, batch=128, seed=0, log_every=500):
    td.set_seed(seed)
    rng = np.random.default_rng(seed)
    generator, discriminator = build()
    g_opt, d_opt = optimizers.Adam(1e-3, beta_1=0.5), optimizers.Adam(1e-3, beta_1=0.5)
    bce = losses.BinaryCrossentropy(from_logits=True)
    ones, zeros = np.ones((batch, 1), np.float32), np.zeros((batch, 1), np.float32)
    before = quality(generator, rng)
    for step in range(1, steps + 1):
        # discriminator step: real -> 1, fake -> 0
        fake = generator.forward(rng.normal(size=(batch, 2)).astype(np.float32), training=True)
        discriminator.zero_grad()
        d_real = bce(ones, discriminator.forward(sample_data(rng, batch), training=True))
        discriminator.backward(bce.backward())
        d_fake = bce(zeros, discriminator.forward(fake, training=True))
        discriminator.backward(bce.backward())
        d_opt.step(discriminator.trainable_weights)
        # generator step: make D call the fakes real; dL/dG(z) comes back from D
        generator.zero_grad()
        fake = generator.forward(rng.normal(size=(batch, 2)).astype(np.float32), training=True)
        g_loss = bce(ones, discriminator.forward(fake, training=True))
        d_fake_input = discriminator.backward(bce.backward())
        generator.backward(d_fake_input)
        g_opt.step(generator.trainable_weights)
        if log_every and step % log_every == 0:
            dist, covered = quality(generator, rng)
            print(f"step {step:5d}  D loss {d_real + d_fake:.3f}  G loss {g_loss:.3f}  "
                  f"distance to nearest mode {dist:.3f}  modes covered {covered}/4")
    return before, quality(generator, rng)


if __name__ == "__main__":
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    (d0, c0), (d1, c1) = train(steps)
    print(f"\nbefore training: mean distance to nearest mode {d0:.3f}, modes covered {c0}/4")
    print(f"after {steps} steps: mean distance to nearest mode {d1:.3f}, modes covered {c1}/4")
