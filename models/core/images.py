"""Sample pictures as PNG files: image tiles (the default), or a 2-D histogram for point data."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image


def image_grid(images: np.ndarray, num_levels: int, columns: int | None = None) -> np.ndarray:
    """[N, H, W, C] integer levels in [0, num_levels) -> one uint8 [rows*(H+1)+1, ..., C] mosaic."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f'image_grid expects [N, H, W, C], got shape {images.shape}')
    n, h, w, c = images.shape
    scaled = np.clip(np.rint(images.astype(np.float64) * 255.0 / (num_levels - 1)), 0, 255)
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.zeros((rows * (h + 1) + 1, columns * (w + 1) + 1, c), np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + col * (w + 1) : 1 + col * (w + 1) + w] = (
            scaled[i]
        )
    return grid


def point_density(points: np.ndarray, size: int = 256, extent: float = 4.5) -> np.ndarray:
    """[N, 2] points -> a uint8 [size, size, 1] histogram image over [-extent, extent]^2."""
    points = np.asarray(points, np.float64)
    hist, _, _ = np.histogram2d(
        points[:, 1], points[:, 0], bins=size, range=[[-extent, extent], [-extent, extent]]
    )
    hist = np.flipud(hist)  # y grows upwards in the picture
    scaled = np.sqrt(hist / max(hist.max(), 1.0))  # sqrt so that sparse tails stay visible
    return (255 * scaled).astype(np.uint8)[..., None]


def save_png(path: str, array: np.ndarray, upscale: int = 1) -> None:
    array = np.asarray(array, np.uint8)
    if upscale > 1:
        array = array.repeat(upscale, axis=0).repeat(upscale, axis=1)
    mode_array = array[..., 0] if array.shape[-1] == 1 else array
    Image.fromarray(mode_array).save(path)


def save_points(path: str, samples: np.ndarray, extent: float = 4.5, size: int = 256) -> None:
    """The `Family.render` of families over 2-D points: a histogram over [-extent, extent]^2."""
    save_png(path, point_density(np.asarray(samples), size=size, extent=extent))


def save_samples(path: str, samples: np.ndarray, num_levels: int | None) -> None:
    """The trainer's default picture of samples: an image grid ([N, H, W(, C)] levels).
    Families whose samples are not images set `Family.render` (e.g. `save_points`)."""
    samples = np.asarray(samples)
    if samples.ndim == 3:
        samples = samples[..., None]
    grid = image_grid(samples, num_levels or 256)
    upscale = max(1, 256 // max(grid.shape[:2]))
    save_png(path, grid, upscale=upscale)
