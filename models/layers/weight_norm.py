"""Weight normalisation with data-dependent init (Salimans & Kingma 2016, arXiv:1602.07868).

w = g v / |v| per output unit. On an init batch, g and b are chosen so that every output unit's
pre-activation has zero mean and std `init_scale`, so a deep stack starts with activations of a
known scale layer by layer. Both the flows' Flax layers and the autoregressive models' explicit
parameter dicts use these two functions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# A unit whose pre-activation barely varies over the init batch (one that sees only padding at a
# 1x1 scale, say) keeps unit gain instead of being blown up by 1/std.
MIN_INIT_STD = 1e-4


def normalised(v: jax.Array, g: jax.Array | None = None) -> jax.Array:
    """v / |v| over every axis but the last (the output units), times g if given."""
    axes = tuple(range(v.ndim - 1))
    scale = jax.lax.rsqrt(jnp.sum(jnp.square(v), axis=axes) + 1e-12)
    return v * (scale if g is None else scale * g)


def data_dependent_init(
    unit_outputs: jax.Array, init_scale: float = 1.0
) -> tuple[jax.Array, jax.Array]:
    """(g, b) such that g * t + b has zero mean and std `init_scale` per output unit, where
    `unit_outputs` t [..., units] are the layer's outputs with g = 1 and b = 0 on the init batch."""
    axes = tuple(range(unit_outputs.ndim - 1))
    mean = jnp.mean(unit_outputs, axis=axes)
    std = jnp.sqrt(jnp.var(unit_outputs, axis=axes))
    g = jnp.where(std > MIN_INIT_STD, init_scale / jnp.maximum(std, MIN_INIT_STD), 1.0)
    return g, -mean * g
