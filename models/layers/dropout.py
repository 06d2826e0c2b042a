"""Inverted dropout from an explicit key, for layers written as plain functions."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def dropout(x: jax.Array, rate: float, rng: jax.Array | None) -> jax.Array:
    """Zeroes each entry with probability `rate` and scales the rest by 1 / (1 - rate);
    the identity when `rng` is None (evaluation) or the rate is 0."""
    if rng is None or rate <= 0.0:
        return x
    keep = jax.random.bernoulli(rng, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)
