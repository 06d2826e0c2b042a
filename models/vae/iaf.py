"""Inverse autoregressive flow (Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling 2016,
arXiv:1606.04934) over a flat latent vector.

One step reads z and the encoder's context h through a MADE-style masked network (the shared
masked layers) that outputs, for every dimension d, a shift m_d and a gate pre-activation from
z_<d only, and applies the paper's numerically stable update

    s = sigmoid(g + forget_bias),   z' = s * z + (1 - s) * m,

so dz'_d/dz_d = s_d and log|det dz'/dz| = sum_d log s_d (the Jacobian is triangular). The
flow returns log s per dimension, summed over steps: the per-dimension terms free bits groups. Steps
alternate the ordering (reversed every other step), as in the paper. The gate bias starts at
`forget_bias` so every step starts close to the identity.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models.layers.masked import (
    MaskedDense,
    connectivity_masks,
    cyclic_hidden_degrees,
    input_degrees,
)


def step_order(num_dims: int, index: int) -> np.ndarray:
    """The ordering of step `index`: natural for even steps, reversed for odd ones."""
    order = np.arange(num_dims)
    return order[::-1].copy() if index % 2 else order


class IAFStep(nn.Module):
    hidden: tuple[int, ...]
    order: np.ndarray
    forget_bias: float = 1.0

    def setup(self):
        d = len(self.order)
        degrees = input_degrees(self.order)
        masks = connectivity_masks(
            degrees, cyclic_hidden_degrees(self.hidden, d), np.concatenate([degrees, degrees])
        )
        self.layers = [MaskedDense(m) for m in masks[:-1]]
        # The output layer starts at zero: m = 0 and s = sigmoid(forget_bias) for every input.
        self.out = MaskedDense(masks[-1], kernel_init=nn.initializers.zeros)
        self.context = nn.Dense(self.hidden[0], use_bias=False) if self.hidden else None

    def shift_and_gate(self, z: jax.Array, h: jax.Array | None):
        a = z
        for i, layer in enumerate(self.layers):
            a = layer(a)
            if i == 0 and h is not None:
                a = a + self.context(h)
            a = jax.nn.elu(a)
        m, g = jnp.split(self.out(a), 2, axis=-1)
        return m, jax.nn.sigmoid(g + self.forget_bias)

    def __call__(self, z: jax.Array, h: jax.Array | None) -> tuple[jax.Array, jax.Array]:
        """z [B, D] -> (z' [B, D], log s [B, D]); log|det dz'/dz| is the sum over D."""
        m, s = self.shift_and_gate(z, h)
        return s * z + (1.0 - s) * m, jnp.log(s)

    def inverse(self, z_out: jax.Array, h: jax.Array | None) -> jax.Array:
        """z' -> z, one dimension at a time in the step's order (D network passes): m_d and s_d
        depend only on z_<d, which are known when d is solved."""
        z = jnp.zeros_like(z_out)
        for d in self.order:
            m, s = self.shift_and_gate(z, h)
            z = z.at[:, d].set((z_out[:, d] - (1.0 - s[:, d]) * m[:, d]) / s[:, d])
        return z


class IAF(nn.Module):
    """A stack of `num_steps` IAF steps with alternating orderings."""

    num_dims: int
    num_steps: int
    hidden: tuple[int, ...]
    forget_bias: float = 1.0

    def setup(self):
        self.steps = [
            IAFStep(self.hidden, step_order(self.num_dims, i), self.forget_bias)
            for i in range(self.num_steps)
        ]

    def __call__(self, z: jax.Array, h: jax.Array | None) -> tuple[jax.Array, jax.Array]:
        """z [B, D] -> (z' [B, D], per-dimension log-determinant terms [B, D])."""
        logdet = jnp.zeros_like(z)
        for step in self.steps:
            z, ld = step(z, h)
            logdet = logdet + ld
        return z, logdet

    def inverse(self, z: jax.Array, h: jax.Array | None) -> jax.Array:
        for step in reversed(self.steps):
            z = step.inverse(z, h)
        return z
