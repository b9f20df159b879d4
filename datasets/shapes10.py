"""shapes10: a CIFAR-shaped 10-class data set drawn here, offline and deterministically.

    (x_train, y_train), (x_test, y_test) = shapes10.load_data(n_train=10000, n_test=2000, seed=0)
    x_*: uint8 (N, 3, 32, 32) NCHW, y_*: int64 (N,), every class n/10 times (when 10 divides n)

Each image is one filled shape of its class (LABEL_NAMES) at a random size, position, rotation
(up to +-17 degrees from the shape's drawn orientation: an arrow points roughly right), aspect and
colour, on a random background, with pixel noise:

    background   two-colour linear gradient + low-frequency colour texture + faint stripes (NumPy,
                 the whole batch at once)
    shape mask   the class's polygon(s) rotated, scaled and moved, drawn by Pillow at 4x the
                 resolution and averaged down to 32x32 (anti-aliased edges); a ring is a disk with
                 a hole, the circle, ring and bar are many-sided polygons
    colour       a shape colour far enough from the background's mean colour to stay visible,
                 shaded by a gradient of its own
    composite    background * (1 - mask) + colour * mask, + Gaussian noise, rounded to uint8

Colour and position carry no information about the class, so a linear classifier on raw pixels
stays far below a small CNN. The train and test splits come from two independent streams of
``np.random.SeedSequence(seed)``: the same seed gives the same bytes, a different seed different ones.
"""
import numpy as np
from PIL import Image, ImageDraw

from tinydl._validate import nonnegative_int

LABEL_NAMES = ("circle", "square", "triangle", "star", "cross", "ring", "diamond", "hexagon", "bar", "arrow")

SIZE = 32                 # images are SIZE x SIZE
SUPERSAMPLE = 4           # masks are drawn at SUPERSAMPLE * SIZE and averaged down
_CHUNK = 1024             # images composed per NumPy pass (bounds memory)
# how hard the images are (drawn per image, uniformly in these ranges)
# (measured with a compact CNN: with free rotation and radii from 5 px it stayed near chance for
# 5 epochs of 5,000 images; these settings let it reach ~75% while a linear model stays near 12-15%)
RADIUS = (7.5, 13.0)      # shape radius, pixels
ROTATION = 0.3            # largest rotation either way from the shape's drawn orientation, radians
TEXTURE = 0.08            # largest amplitude of the background's colour texture
STRIPES = (0.25, 0.10)    # fraction of images with stripes, their largest amplitude
NOISE = 0.04              # largest standard deviation of the pixel noise
CONTRAST = 0.6            # least RGB distance between the shape's colour and the background's mean

__all__ = ["load_data", "label_names", "LABEL_NAMES"]


def label_names() -> list[str]:
    """The class names, indexed by label."""
    return list(LABEL_NAMES)


def load_data(n_train: int = 10000, n_test: int = 2000, seed: int = 0):
    """Return ``(x_train, y_train), (x_test, y_test)``: uint8 (N, 3, 32, 32) and int64 (N,)."""
    for name, value in (("n_train", n_train), ("n_test", n_test), ("seed", seed)):
        nonnegative_int(value, name, "shapes10.load_data")
    train_seq, test_seq = np.random.SeedSequence(int(seed)).spawn(2)
    return _generate(int(n_train), train_seq), _generate(int(n_test), test_seq)


# ---------------------------------------------------------------------------------------------
# the shapes: polygons in units of the shape's radius, centred on 0 (x right, y down)


def _ngon(sides, rx=1.0, ry=None, phase=0.0):
    angles = phase + 2 * np.pi * np.arange(sides) / sides
    return np.stack([rx * np.cos(angles), (ry or rx) * np.sin(angles)], axis=1)


def _star(points=5, outer=1.1, inner=0.45):
    angles = -np.pi / 2 + np.pi * np.arange(2 * points) / points
    radius = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


_ARM = 0.3  # half-width of the cross's arms and the arrow's shaft
_CROSS = np.array([(-_ARM, -1), (_ARM, -1), (_ARM, -_ARM), (1, -_ARM), (1, _ARM), (_ARM, _ARM),
                   (_ARM, 1), (-_ARM, 1), (-_ARM, _ARM), (-1, _ARM), (-1, -_ARM), (-_ARM, -_ARM)], float)
_ARROW = np.array([(-1.0, -0.18), (0.15, -0.18), (0.15, -0.62), (1.05, 0.0),
                   (0.15, 0.62), (0.15, 0.18), (-1.0, 0.18)])

# class -> [(polygon, fill)]: fill 255 paints the shape, 0 cuts a hole (the ring)
_SHAPES = [
    [(_ngon(48, 0.95), 255)],                                  # circle
    [(np.array([(-.8, -.8), (.8, -.8), (.8, .8), (-.8, .8)]), 255)],  # square
    [(_ngon(3, 1.1, phase=-np.pi / 2), 255)],                  # triangle
    [(_star(), 255)],                                          # star
    [(_CROSS, 255)],                                           # cross
    [(_ngon(48, 1.0), 255), (_ngon(48, 0.55), 0)],             # ring
    [(np.array([(-1.1, 0), (0, -.55), (1.1, 0), (0, .55)]), 255)],  # diamond
    [(_ngon(6, 0.95), 255)],                                   # hexagon
    [(_ngon(48, 1.15, 0.32), 255)],                            # bar
    [(_ARROW, 255)],                                           # arrow
]
assert len(_SHAPES) == len(LABEL_NAMES)


def _poses(n, rng):
    """Random pose of each shape: radius, aspect, rotation, centre x and y (in output pixels)."""
    radius = rng.uniform(*RADIUS, n)
    aspect = rng.uniform(0.85, 1.15, n)
    theta = rng.uniform(-ROTATION, ROTATION, n)
    margin = 0.7 * radius  # at most 30% of the radius leaves the frame
    return radius, aspect, theta, rng.uniform(margin, SIZE - margin), rng.uniform(margin, SIZE - margin)


def _masks(labels, radius, aspect, theta, cx, cy):
    """Anti-aliased shape masks, float32 (N, SIZE, SIZE) in [0, 1], one per label and pose."""
    n = len(labels)
    cos, sin = np.cos(theta), np.sin(theta)
    big = SIZE * SUPERSAMPLE
    out = np.empty((n, SIZE, SIZE), np.uint8)
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    for i in range(n):
        draw.rectangle((0, 0, big, big), fill=0)
        for poly, fill in _SHAPES[labels[i]]:
            # x' = R(theta) @ (aspect * x, y / aspect) * radius + centre, then to the big canvas
            px, py = poly[:, 0] * aspect[i], poly[:, 1] / aspect[i]
            qx = (cos[i] * px - sin[i] * py) * radius[i] + cx[i]
            qy = (sin[i] * px + cos[i] * py) * radius[i] + cy[i]
            draw.polygon((SUPERSAMPLE * np.stack([qx, qy], 1)).ravel().tolist(), fill=fill)
        # average each SUPERSAMPLE x SUPERSAMPLE block (Pillow's box reduce): big x big -> SIZE x SIZE
        out[i] = np.asarray(canvas.reduce(SUPERSAMPLE))
    return out.astype(np.float32) / 255.0


def _ramp(n, rng):
    """A linear ramp in [0, 1] at a random angle per image, (N, SIZE, SIZE)."""
    phi = rng.uniform(0, 2 * np.pi, n)[:, None, None]
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / (SIZE - 1) - 0.5
    t = np.cos(phi) * x + np.sin(phi) * y                      # in [-0.71, 0.71]
    return (t / np.sqrt(0.5) * 0.5 + 0.5).astype(np.float32)


def _upsample_matrix(k):
    """(SIZE, k) bilinear interpolation weights from a k-point grid to SIZE points."""
    pos = np.linspace(0, k - 1, SIZE)
    lo = np.minimum(np.floor(pos).astype(int), k - 2)
    frac = pos - lo
    m = np.zeros((SIZE, k), np.float32)
    m[np.arange(SIZE), lo] = 1 - frac
    m[np.arange(SIZE), lo + 1] = frac
    return m


def _backgrounds(n, rng):
    """float32 (N, 3, SIZE, SIZE) backgrounds, roughly in [0, 1]."""
    # two-colour gradient, of random strength
    c1 = rng.uniform(0, 1, (n, 3, 1, 1)).astype(np.float32)
    c2 = rng.uniform(0, 1, (n, 3, 1, 1)).astype(np.float32)
    strength = rng.uniform(0, 1, (n, 1, 1, 1)).astype(np.float32)
    bg = c1 + (c2 - c1) * strength * _ramp(n, rng)[:, None]
    # low-frequency colour texture: a random 6x6 grid per channel, bilinearly upsampled
    m = _upsample_matrix(6)
    grid = rng.standard_normal((n, 3, 6, 6)).astype(np.float32)
    texture = np.einsum("hi,ncij,wj->nchw", m, grid, m, optimize=True)
    bg += rng.uniform(0, TEXTURE, (n, 1, 1, 1)).astype(np.float32) * texture
    # faint stripes on about a third of the images
    freq = rng.uniform(2, 6, (n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    stripes = np.sin(2 * np.pi * freq * _ramp(n, rng) + phase).astype(np.float32)
    amp = (rng.uniform(0, 1, n) < STRIPES[0]) * rng.uniform(0.25, 1, n) * STRIPES[1]
    tint = rng.uniform(-1, 1, (n, 3)).astype(np.float32)
    bg += (amp[:, None] * tint).astype(np.float32)[:, :, None, None] * stripes[:, None]
    return bg


def _shape_colours(bg_mean, rng, tries=8):
    """(N, 3) colours at least CONTRAST (RGB distance, in [0, 1]) from each background's mean when one
    of ``tries`` candidates is; otherwise the farthest candidate."""
    n = len(bg_mean)
    candidates = rng.uniform(0, 1, (n, tries, 3)).astype(np.float32)
    dist = np.linalg.norm(candidates - bg_mean[:, None, :], axis=2)
    far = dist >= CONTRAST
    pick = np.where(far.any(axis=1), far.argmax(axis=1), dist.argmax(axis=1))
    return candidates[np.arange(n), pick]


def _generate(n: int, seq: np.random.SeedSequence):
    """n images and labels from the stream ``seq``: labels balanced, then images in chunks."""
    label_rng, *chunk_seqs = seq.spawn(1 + (n + _CHUNK - 1) // _CHUNK)
    labels = np.random.default_rng(label_rng).permutation(np.arange(n) % len(LABEL_NAMES)).astype(np.int64)
    x = np.empty((n, 3, SIZE, SIZE), np.uint8)
    for k, chunk_seq in enumerate(chunk_seqs):
        rng = np.random.default_rng(chunk_seq)
        lo, hi = k * _CHUNK, min(n, (k + 1) * _CHUNK)
        m = hi - lo
        bg = _backgrounds(m, rng)
        alpha = _masks(labels[lo:hi], *_poses(m, rng))[:, None]                             # (m, 1, S, S)
        colour = _shape_colours(bg.mean(axis=(2, 3)), rng)[:, :, None, None]      # (m, 3, 1, 1)
        shade = rng.uniform(-0.2, 0.2, (m, 1, 1, 1)).astype(np.float32) * (_ramp(m, rng)[:, None] - 0.5)
        img = bg * (1 - alpha) + (colour + shade) * alpha
        img += rng.uniform(0, NOISE, (m, 1, 1, 1)).astype(np.float32) * rng.standard_normal(img.shape, np.float32)
        x[lo:hi] = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
    return x, labels
