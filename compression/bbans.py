"""Bits-back with ANS (BB-ANS, Townsend, Bird, Barber 2019) with a one-layer latent variable
model's `models.core.pieces.LatentVariable` pieces (the VAE with a diagonal posterior).

Per image x, on a stack that already holds bits (the initial bits, then earlier images):
  encode: pop z ~ q(z | x) over the prior's max-entropy buckets (this takes bits back),
          push x with p(x | z), push z with p(z) (uniform over the buckets: `latent_bits` each);
  decode: pop z with p(z), pop x with p(x | z), push z with q(z | x) (returning those bits).
The net cost per image is about -log p(x | z) - log p(z) + log q(z | x), the negative ELBO up to
the latent bucketing. The first image has nothing to take bits back from but the initial bits,
which are reported apart from the net rate.

Determinism: the posterior and likelihood tables come from two jitted functions that encoder and
decoder call with the same shapes, so both sides run the same compiled programs on the same
inputs (x, and z as bucket indices) and get bit-identical tables. Streams: one per image of a
batch; a sequence of batches chains on the same streams (`compression.sequences`), decoded in
reverse order.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from compression import buckets, codecs, tables


class BBANS(NamedTuple):
    encode: Any  # (variables, x [B, *shape], stack) -> stack
    decode: Any  # (variables, stack) -> (x, stack)
    buckets: Any  # (variables) -> Buckets


def coder(
    pieces,
    latent_bits: int = 12,
    latent_precision: int = 24,
    data_precision: int = 16,
) -> BBANS:
    """pieces: LatentVariable with one layer; its likelihood must expose `bin_log_probs`."""
    if len(pieces.latent_shapes) != 1:
        raise ValueError('bbans: one latent layer; code a hierarchy with Bit-Swap')
    shape = tuple(pieces.latent_shapes[0])

    @jax.jit
    def prior_buckets(variables):
        return buckets.of_prior(pieces.prior(variables, 1, None), shape, latent_bits)

    @jax.jit
    def posterior_cdf(variables, bk, x):
        return buckets.cdf_of(pieces.posterior(variables, 1, x), bk, latent_precision)

    @jax.jit
    def likelihood_cdf(variables, bk, z_index):
        dist = pieces.likelihood(variables, buckets.values(bk, z_index))
        return tables.cdf_from_log_probs(dist.bin_log_probs(), data_precision)

    prior = codecs.uniform(shape, latent_bits)
    push_prior, pop_prior = jax.jit(prior.push), jax.jit(prior.pop)
    push, pop = codecs.push_table, codecs.pop_table

    def encode(variables, x, stack):
        bk = prior_buckets(variables)
        x = jnp.asarray(x, jnp.int32)
        z, stack = pop(stack, posterior_cdf(variables, bk, x), latent_precision)
        stack = push(stack, likelihood_cdf(variables, bk, z), x, data_precision)
        return push_prior(stack, z)

    def decode(variables, stack):
        bk = prior_buckets(variables)
        z, stack = pop_prior(stack)
        x, stack = pop(stack, likelihood_cdf(variables, bk, z), data_precision)
        stack = push(stack, posterior_cdf(variables, bk, x), z, latent_precision)
        return x, stack

    return BBANS(encode, decode, prior_buckets)


def capacity_words(
    num_images: int,
    data_dims: int,
    latent_dims: int,
    initial_words: int,
    data_precision: int = 16,
    latent_precision: int = 24,
) -> int:
    """Tail words per stream that always suffice for `num_images` images on one stream (every
    symbol at its worst cost) plus the initial words."""
    worst = data_dims * data_precision + latent_dims * latent_precision
    return initial_words + math.ceil(num_images * worst / 32) + 4
