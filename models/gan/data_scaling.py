"""Between the dataset's integer levels and the [-1, 1] range the GAN networks work in.

Real images hold a few discrete levels (17 on the digits); a generator's tanh output is
continuous. Without dequantisation a discriminator can tell real from fake by the gaps between
levels alone, so real images get uniform noise within their level's bin (optional).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def to_signed(levels: jax.Array, num_levels: int, rng: jax.Array | None = None) -> jax.Array:
    """Integer levels in [0, K) -> floats in [-1, 1]; with `rng`, uniform within each bin."""
    x = levels.astype(jnp.float32)
    if rng is not None:
        x = x + jax.random.uniform(rng, x.shape, minval=-0.5, maxval=0.5)
    return jnp.clip(2.0 * x / (num_levels - 1) - 1.0, -1.0, 1.0)


def to_levels(x: jax.Array, num_levels: int) -> jax.Array:
    """Floats in [-1, 1] -> the nearest integer level in [0, K)."""
    scaled = jnp.round((x + 1.0) * 0.5 * (num_levels - 1))
    return jnp.clip(scaled, 0, num_levels - 1).astype(jnp.int32)


def real_inputs(batch_x, data_spec, rng, dequantize: bool) -> jax.Array:
    """The discriminator's view of real data: [-1, 1] images, or 2-D points unchanged."""
    if data_spec.num_levels is None:
        return batch_x.astype(jnp.float32)
    return to_signed(batch_x, data_spec.num_levels, rng if dequantize else None)


def to_data(x: jax.Array, data_spec) -> jax.Array:
    """Generator output -> data space (levels for images, points for continuous data)."""
    if data_spec.num_levels is None:
        return x
    return to_levels(x, data_spec.num_levels)


def center_crop_resize(x: jax.Array, crop: int, size: int) -> jax.Array:
    """[B, H, W, C] -> the central `crop` x `crop` square (0: the largest) resized to `size`.

    The DCGAN CelebA recipe: a 108x108 centre crop of the 218x178 photos, resized to 64x64.
    """
    height, width = x.shape[1:3]
    side = crop or min(height, width)
    if side > min(height, width):
        raise ValueError(f'centre crop {side} does not fit images of {height}x{width}')
    top, left = (height - side) // 2, (width - side) // 2
    x = x[:, top : top + side, left : left + side]
    if side == size:
        return x
    return jax.image.resize(x, (x.shape[0], size, size, x.shape[3]), 'linear', antialias=True)
