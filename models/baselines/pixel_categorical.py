"""Independent per-pixel categorical model: p(x) = prod_d Categorical(x_d | softmax(logits_d)).

The floor of every likelihood table in this repo: it learns each sub-pixel's marginal
distribution and nothing about how pixels depend on each other, so any real model must beat it.
Its exact discrete likelihood needs no dequantisation. With `tie_positions` every spatial position
shares one categorical per channel (a colour histogram), which transfers better between images
whose per-position statistics differ (the photo-wise split of `image_patches32`). Its typed
pieces (`Family.pieces`, `models.core.pieces.Autoregressive`) let a coder code with it like with
any autoregressive model: the floor of the compression tables too.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.autoregressive.decoding import Pieces, model_params, unchanged_state
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
    num_dims = int(np.prod(shape))
    # Logits over [*shape, K], or over [channels, K] broadcast to every position when tied.
    param_shape = (shape[-1],) if tie_positions else shape

    def log_probs(variables):
        """[D, K] normalised log-probabilities of every dimension, raster order."""
        logits = jnp.broadcast_to(model_params(variables)['logits'], (*shape, levels))
        return jax.nn.log_softmax(logits, axis=-1).reshape(num_dims, levels)

    def log_prob(variables, batch, rng=None):
        del rng  # exact
        x = batch[key].astype(jnp.int32).reshape(-1, num_dims)  # [B, D]
        # A gather by (position, value): its gradient scatters into [D, K] directly, never
        # materialising a [B, D, K] one-hot or broadcast.
        per_dim = log_probs(variables)[jnp.arange(num_dims)[None, :], x]  # [B, D]
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
        del ctx  # deterministic
        mean_nll = jnp.mean(-log_prob(variables, batch))
        # Optimise per-dimension nats so the learning rate does not depend on the image size.
        metrics = {'bpd/total': bits_per_dim(mean_nll, num_dims)}
        return {'model': mean_nll / num_dims}, metrics, unchanged_state(variables)

    def sample(variables, rng, num):
        # Every dimension at once (they are independent), by inverse CDF: one uniform per
        # sub-pixel instead of K Gumbels per sub-pixel.
        cdf = jnp.cumsum(jnp.exp(log_probs(variables)), axis=-1)  # [D, K]
        u = jax.random.uniform(rng, (num, num_dims, 1))
        values = jnp.sum(cdf[None, :, :-1] < u, axis=-1)  # [num, D]
        return values.astype(jnp.int32).reshape(num, *shape)

    def conditionals(variables, batch):
        num = batch[key].shape[0]
        return jnp.broadcast_to(log_probs(variables).reshape(*shape, levels), (num, *shape, levels))

    def decode(variables, choose, carry, num, batch=None):
        """Dimension by dimension in raster order; nothing depends on what was chosen, but a
        coder codes every model through the same scan."""
        del batch  # unconditional
        table = log_probs(variables)

        def body(t, state):
            x, carry = state
            row = jnp.broadcast_to(table[t], (num, levels))
            value, carry = choose(carry, row, t.astype(jnp.int32))
            return x.at[:, t].set(value.astype(jnp.int32)), carry

        x0 = jnp.zeros((num, num_dims), jnp.int32)
        x, carry = jax.lax.fori_loop(0, num_dims, body, (x0, carry))
        return x.reshape(num, *shape), carry

    pieces = Pieces(shape, levels, np.arange(num_dims), conditionals, decode)
    return Family(init=init, loss=loss, sample=sample, log_prob=log_prob, pieces=pieces)
