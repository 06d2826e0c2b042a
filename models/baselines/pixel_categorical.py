"""Independent per-pixel categorical model: p(x) = prod_d Categorical(x_d | softmax(logits_d)).

The floor of every likelihood table in this repo: it learns each sub-pixel's marginal
distribution and nothing about how pixels depend on each other, so any real model must beat it.
Its exact discrete likelihood needs no dequantisation. With `tie_positions` every spatial position
shares one categorical per channel (a colour histogram), which transfers better between images
whose per-position statistics differ (the photo-wise split of `image_patches32`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from models.core.family import Family
from models.core.metrics import bits_per_dim


def make(
    data_spec, data_init: bool = True, init_smoothing: float = 1.0, tie_positions: bool = False
) -> Family:
    """data_init: start from the add-`init_smoothing` histogram of the first batch."""
    if data_spec.num_levels is None:
        raise ValueError(
            f"baselines.pixel_categorical needs discrete data; '{data_spec.name}' is continuous"
        )
    shape = tuple(data_spec.shape)
    levels = int(data_spec.num_levels)
    key = data_spec.key
    num_dims = 1
    for s in shape:
        num_dims *= s
    # Logits over [*shape, K], or over [channels, K] broadcast to every position when tied.
    param_shape = (shape[-1],) if tie_positions else shape

    def full_logits(variables):
        return jnp.broadcast_to(variables.params['model']['logits'], (*shape, levels))

    def log_prob(variables, batch, rng=None):
        del rng  # exact likelihood: nothing to draw
        x = batch[key].astype(jnp.int32).reshape(-1, num_dims)  # [B, D]
        logp = jax.nn.log_softmax(full_logits(variables), axis=-1).reshape(num_dims, levels)
        # A gather by (position, value): its gradient scatters into [D, K] directly, never
        # materialising a [B, D, K] one-hot or broadcast.
        per_dim = logp[jnp.arange(num_dims)[None, :], x]  # [B, D]
        return per_dim.sum(axis=1)

    def init(rng, batch):
        del rng
        if not data_init:
            return {'model': {'logits': jnp.zeros((*param_shape, levels), jnp.float32)}}
        x = batch[key].astype(jnp.int32)
        counts = jax.nn.one_hot(x, levels, dtype=jnp.float32).sum(axis=0)  # [*shape, K]
        if tie_positions:
            counts = counts.reshape(-1, shape[-1], levels).sum(axis=0)  # [C, K]
        return {'model': {'logits': jnp.log(counts + init_smoothing)}}

    def loss(variables, batch, ctx):
        mean_nll = jnp.mean(-log_prob(variables, batch))
        # Optimise per-dimension nats so the learning rate does not depend on the image size.
        metrics = {'bpd/total': bits_per_dim(mean_nll, num_dims)}
        return {'model': mean_nll / num_dims}, metrics, variables.state

    def sample(variables, rng, num):
        # Inverse-CDF sampling: one uniform per sub-pixel instead of K Gumbels per sub-pixel.
        cdf = jnp.cumsum(jax.nn.softmax(full_logits(variables), axis=-1), axis=-1)  # [*shape, K]
        u = jax.random.uniform(rng, (num, *shape, 1))
        values = jnp.sum(cdf[None, ..., :-1] < u, axis=-1)  # [num, *shape]
        return values.astype(jnp.int32)

    return Family(init=init, loss=loss, sample=sample, log_prob=log_prob)
