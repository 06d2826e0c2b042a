"""The Improved-GAN techniques: feature matching, minibatch discrimination, historical averaging
and virtual batch normalisation.

Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen, "Improved Techniques for Training GANs",
arXiv:1606.03498, section 3. (One-sided label smoothing is a loss: see losses.py.)
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

PyTree = Any


def feature_matching(real_features: jax.Array, fake_features: jax.Array) -> jax.Array:
    """||E f(x) - E f(G(z))||_2^2 over a discriminator layer f (section 3.1); [B, F] inputs.

    The real features are a fixed target for the generator, so no gradient flows into them.
    """
    real_mean = jax.lax.stop_gradient(real_features.mean(axis=0))
    return jnp.sum((real_mean - fake_features.mean(axis=0)) ** 2)


def minibatch_features(activations: jax.Array) -> jax.Array:
    """o(x_i)_b = sum_{j != i} exp(-||M_{i,b} - M_{j,b}||_1) for M = [N, kernels, dim] (3.2).

    Self-pairs are left out (as in the released code; including them adds a constant 1).
    """
    diff = activations[:, None, :, :] - activations[None, :, :, :]  # [N, N, kernels, dim]
    closeness = jnp.exp(-jnp.abs(diff).sum(axis=-1))  # [N, N, kernels]
    not_self = 1.0 - jnp.eye(activations.shape[0], dtype=closeness.dtype)
    return jnp.einsum('ijb,ij->ib', closeness, not_self)  # [N, kernels]


class MinibatchDiscrimination(nn.Module):
    """Appends minibatch features to each example's features: [N, F] -> [N, F + kernels]."""

    kernels: int = 50
    dim: int = 5

    @nn.compact
    def __call__(self, features: jax.Array) -> jax.Array:
        tensor = self.param(
            'T', nn.initializers.normal(0.05), (features.shape[-1], self.kernels * self.dim)
        )
        activations = (features @ tensor).reshape(-1, self.kernels, self.dim)
        return jnp.concatenate([features, minibatch_features(activations)], axis=-1)


def historical_average_penalty(params: PyTree, average: PyTree) -> jax.Array:
    """||theta - (1/t) sum_i theta[i]||^2 summed over every parameter (section 3.3)."""
    squares = jax.tree.map(
        lambda p, a: jnp.sum((p - jax.lax.stop_gradient(a)) ** 2), params, average
    )
    return sum(jax.tree.leaves(squares), jnp.zeros(()))


def historical_average_init(params: PyTree) -> dict[str, PyTree]:
    return {'mean': jax.tree.map(jnp.copy, params), 'count': jnp.ones(())}


def historical_average_update(history: dict[str, PyTree], params: PyTree) -> dict[str, PyTree]:
    """Adds `params` to the running mean of every parameter vector seen so far."""
    count = history['count'] + 1.0
    mean = jax.tree.map(
        lambda m, p: m + (jax.lax.stop_gradient(p) - m) / count, history['mean'], params
    )
    return {'mean': mean, 'count': count}


class VirtualBatchNorm(nn.Module):
    """Virtual batch normalisation (section 3.4): each example is normalised with the statistics
    of a fixed reference batch combined with itself, so no example depends on the others.

    The first `reference_size` rows of the input are the reference batch (a generator runs its
    fixed reference latents through the same layers in the same call). Reference rows are
    normalised by the reference statistics alone; every other row i by
    mean_i = (R m_ref + m_i) / (R + 1) and the same weighting of the second moments, where
    m_i averages row i over its spatial positions.
    """

    reference_size: int
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        r = self.reference_size
        spatial = tuple(range(1, x.ndim - 1))
        own_mean = x.mean(axis=spatial) if spatial else x  # [N, C]
        own_sq = (x**2).mean(axis=spatial) if spatial else x**2  # [N, C]
        ref_mean, ref_sq = own_mean[:r].mean(axis=0), own_sq[:r].mean(axis=0)  # [C]
        is_ref = (jnp.arange(x.shape[0]) < r)[:, None]  # [N, 1]
        mean = jnp.where(is_ref, ref_mean, (r * ref_mean + own_mean) / (r + 1.0))  # [N, C]
        sq = jnp.where(is_ref, ref_sq, (r * ref_sq + own_sq) / (r + 1.0))
        var = jnp.maximum(sq - mean**2, 0.0)
        shape = (x.shape[0],) + (1,) * len(spatial) + (x.shape[-1],)
        normed = (x - mean.reshape(shape)) * jax.lax.rsqrt(var.reshape(shape) + self.epsilon)
        scale = self.param('scale', nn.initializers.ones, (x.shape[-1],))
        bias = self.param('bias', nn.initializers.zeros, (x.shape[-1],))
        return normed * scale + bias
