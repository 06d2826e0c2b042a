"""2-D densities: the learned density on a grid as a picture next to the data, its integral (a
flow's density must integrate to 1; the tests check it within 1%), and the picture of samples
(`render_points`, the 2-D flows' `Family.render`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.core import images


def grid(extent: float = 6.0, size: int = 480) -> tuple[np.ndarray, float]:
    """Cell centres of a size x size grid over [-extent, extent]^2 as [size*size, 2] (row-major,
    y from top to bottom as in a picture), and the cell area."""
    step = 2.0 * extent / size
    centres = -extent + step * (np.arange(size) + 0.5)
    xs, ys = np.meshgrid(centres, centres[::-1])
    return np.stack([xs.ravel(), ys.ravel()], axis=-1).astype(np.float32), step * step


def log_density_on_grid(
    log_prob, variables, rng, extent: float = 6.0, size: int = 480, chunk: int = 16384
):
    """[size, size] log-density of `log_prob(variables, {'x': points}, key)` over the grid; the
    key of chunk i is fold_in(rng, i) (an exact density ignores it)."""
    points, _ = grid(extent, size)
    fn = jax.jit(log_prob)
    out = [
        fn(variables, {'x': jnp.asarray(points[i : i + chunk])}, jax.random.fold_in(rng, n))
        for n, i in enumerate(range(0, len(points), chunk))
    ]
    return np.concatenate([np.asarray(o) for o in out]).reshape(size, size)


def integral(log_density: np.ndarray, extent: float) -> float:
    size = log_density.shape[0]
    return float(np.exp(log_density.astype(np.float64)).sum() * (2.0 * extent / size) ** 2)


def density_picture(log_density: np.ndarray, data: np.ndarray, extent: float) -> np.ndarray:
    """uint8 [size, 2 * size + 4, 1]: the learned density (left) and a histogram of the data
    (right), both on [-extent, extent]^2, each scaled to its own maximum."""
    size = log_density.shape[0]
    p = np.exp(log_density - log_density.max())
    left = (255 * np.sqrt(p)).astype(np.uint8)[..., None]
    right = images.point_density(data, size=size, extent=extent)
    gap = np.full((size, 4, 1), 128, np.uint8)
    return np.concatenate([left, gap, right], axis=1)


def save_density_png(
    path: str, log_prob, variables, rng, data, extent: float = 4.5, size: int = 256
):
    log_density = log_density_on_grid(log_prob, variables, rng, extent, size)
    images.save_png(path, density_picture(log_density, data, extent))


render_points = images.save_points  # the 2-D flows' Family.render
