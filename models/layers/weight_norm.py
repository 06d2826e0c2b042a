"""Weight normalisation with data-dependent init (Salimans & Kingma 2016, arXiv:1602.07868).

w = g v / |v| per output unit. On an init batch, g and b are chosen so that every output unit's
pre-activation has zero mean and std `init_scale`, so a deep stack starts with activations of a
known scale layer by layer. Both the flows' Flax layers and the autoregressive models' explicit
parameter dicts use these two functions; `WNConv` and `WNDense` are the Flax layers built on them
(the data-dependent init runs inside Flax's `module.init(rng, batch)` on the batch itself).
"""

from __future__ import annotations

import flax.linen as nn
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


def _ddi(module: nn.Module, y0: jax.Array, init_scale: float):
    """g and b params; on init, from the statistics of the unit-g pre-activations y0."""
    g_init = b_init = None
    if module.is_initializing():
        g_init, b_init = data_dependent_init(y0, init_scale)
    g = module.param('g', lambda _: g_init)
    b = module.param('b', lambda _: b_init)
    return g, b


class WNConv(nn.Module):
    features: int
    kernel_size: tuple[int, int] = (3, 3)
    init_scale: float = 1.0

    @nn.compact
    def __call__(self, x):
        shape = (*self.kernel_size, x.shape[-1], self.features)
        v = self.param('v', nn.initializers.normal(0.05), shape)
        unit = normalised(v)  # [kh, kw, Cin, Cout]

        def conv(w):
            return jax.lax.conv_general_dilated(
                x, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')
            )

        y0 = conv(unit) if self.is_initializing() else None
        g, b = _ddi(self, y0, self.init_scale)
        # Scaling the kernel (Cout numbers) rather than the output (B H W Cout numbers).
        return conv(unit * g) + b


class WNDense(nn.Module):
    features: int
    init_scale: float = 1.0

    @nn.compact
    def __call__(self, x):
        v = self.param('v', nn.initializers.normal(0.05), (x.shape[-1], self.features))
        unit = normalised(v)
        y0 = x @ unit if self.is_initializing() else None
        g, b = _ddi(self, y0, self.init_scale)
        return x @ (unit * g) + b
