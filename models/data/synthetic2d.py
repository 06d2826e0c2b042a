"""Synthetic 2-D densities for flows and other continuous models, sampled deterministically.

Each density is scaled to lie roughly within [-4, 4]^2. Splits are fixed (size, seed) pairs, so
every run and every process sees the same points.
"""

import functools
from collections.abc import Callable

import numpy as np

# split -> (number of points, seed)
SPLITS = {'train': (50_000, 0), 'test': (10_000, 1)}
EIGHT_GAUSSIANS_RADIUS = 2.0 * np.sqrt(2.0)
EIGHT_GAUSSIANS_STD = 0.35
MOONS_NOISE = 0.1
MOONS_SCALE = 2.0
CHECKERBOARD_CELLS = 4
CHECKERBOARD_HALF_WIDTH = 4.0


def _eight_gaussians(n: int, rng: np.random.Generator) -> np.ndarray:
    angle = rng.integers(0, 8, size=n) * (np.pi / 4.0)
    centre = EIGHT_GAUSSIANS_RADIUS * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    return centre + EIGHT_GAUSSIANS_STD * rng.standard_normal((n, 2))


def _two_moons(n: int, rng: np.random.Generator) -> np.ndarray:
    t = rng.uniform(0.0, np.pi, size=n)
    lower = rng.random(n) < 0.5
    # Upper moon: a half circle; lower moon: the same half circle flipped and shifted into it.
    x = np.where(lower, 1.0 - np.cos(t), np.cos(t))
    y = np.where(lower, 0.5 - np.sin(t), np.sin(t))
    points = np.stack([x, y], axis=-1) + MOONS_NOISE * rng.standard_normal((n, 2))
    # Centre the pair (its bounding box is [-1, 2] x [-0.5, 1]) before scaling up.
    return MOONS_SCALE * (points - np.array([0.5, 0.25]))


def _checkerboard(n: int, rng: np.random.Generator) -> np.ndarray:
    cells = CHECKERBOARD_CELLS
    side = 2.0 * CHECKERBOARD_HALF_WIDTH / cells
    filled = np.array([(i, j) for i in range(cells) for j in range(cells) if (i + j) % 2 == 0])
    cell = filled[rng.integers(0, len(filled), size=n)]
    offset = rng.random((n, 2))
    return (cell + offset) * side - CHECKERBOARD_HALF_WIDTH


SAMPLERS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    'two_moons': _two_moons,
    'checkerboard': _checkerboard,
    'eight_gaussians': _eight_gaussians,
}
NAMES = tuple(SAMPLERS)


def sample(name: str, n: int, seed: int) -> np.ndarray:
    """Draws `n` points of density `name` as float32 [n, 2]; equal (n, seed) give equal points."""
    if name not in SAMPLERS:
        raise ValueError(f'Unknown 2-D density {name!r}; known: {list(NAMES)}.')
    return SAMPLERS[name](n, np.random.default_rng(seed)).astype(np.float32)


@functools.cache
def split_arrays(name: str, split: str) -> dict[str, np.ndarray]:
    """The fixed `split` of density `name` as {'x': float32 [N, 2]} (read-only, shared)."""
    if split not in SPLITS:
        raise ValueError(f'Unknown split {split!r} for {name!r}; valid splits: {list(SPLITS)}.')
    size, seed = SPLITS[split]
    x = sample(name, size, seed)
    x.flags.writeable = False
    return {'x': x}
