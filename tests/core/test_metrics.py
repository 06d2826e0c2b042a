"""Likelihood units, dequantisation accounting, and the sample pictures."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from models.core import images
from models.core.metrics import bits_per_dim, summarize


def test_uniform_density_on_unit_cube_gives_log2_levels_bits():
    # The uniform density on [0, 1)^D has log-density 0; as a model of K-level data it assigns
    # each of the K^D values probability K^-D, i.e. exactly log2(K) bits per dimension.
    dims, levels = 3072, 256
    log_p = jnp.zeros(()) - dims * jnp.log(float(levels))
    assert float(bits_per_dim(-log_p, dims)) == pytest.approx(8.0, rel=1e-6)
    assert float(bits_per_dim(64 * math.log(17), 64)) == pytest.approx(math.log2(17), rel=1e-6)


def test_summarize_means_and_keeps_counters():
    history = [{'loss': 1.0, 'nonfinite/skipped': 0}, {'loss': 3.0, 'nonfinite/skipped': 2}]
    assert summarize(history) == {'loss': 2.0, 'nonfinite/skipped': 2.0}


def test_image_grid_layout_and_scaling():
    tiles = np.stack([np.full((2, 3, 1), 16), np.zeros((2, 3, 1))])  # two 2x3 tiles, 17 levels
    grid = images.image_grid(tiles, num_levels=17, columns=2)
    assert grid.shape == (2 + 2, 2 * 4 + 1, 1)
    assert grid[1:3, 1:4].min() == 255 and grid[1:3, 5:8].max() == 0
    assert grid[0].max() == 0  # the separator


def test_point_density_is_a_histogram(tmp_path):
    pts = np.zeros((100, 2))
    img = images.point_density(pts, size=9, extent=4.5)
    assert img.shape == (9, 9, 1) and img[4, 4, 0] == 255 and img.sum() == 255
    images.save_points(str(tmp_path / 'p.png'), pts)
    assert (tmp_path / 'p.png').stat().st_size > 0
