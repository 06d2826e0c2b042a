"""Bits-back with ANS (BB-ANS, Townsend, Bird, Barber 2019) with a one-layer latent variable
model's `models.core.pieces.LatentVariable` pieces (the VAE with a diagonal posterior).

Per image x, on a stack that already holds bits (the initial bits, then earlier images):
  encode: pop z ~ q(z | x) over the prior's max-entropy buckets (this takes bits back),
          push x with p(x | z), push z with p(z) (uniform over the buckets: `latent_bits` each);
  decode: pop z with p(z), pop x with p(x | z), push z with q(z | x) (returning those bits).
The net cost per image is about -log p(x | z) - log p(z) + log q(z | x), the negative ELBO of
the bucketed model: close to the continuous one while posteriors span many buckets (measured in
the tests), not when a posterior is as narrow as a bucket. The first image has nothing to take
bits back from but the initial bits, which are reported apart from the net rate.

Determinism: each stage (posterior, likelihood, prior) is one compiled program that computes
its table and then pushes or pops (`codecs.push_or_pop`), used by both directions with the same
shapes, so encoder and decoder get bit-identical tables by construction. Streams: one per image
of a batch; a sequence of batches chains on the same streams (`compression.sequences`), decoded
in reverse order.
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


def coder(
    pieces,
    data_shape: tuple[int, ...],
    latent_bits: int = 12,
    latent_precision: int = 24,
    data_precision: int = 16,
) -> BBANS:
    """pieces: LatentVariable with one layer; its likelihood must expose `bin_log_probs`
    [B, *data_shape, K] (Bernoulli, discretised logistic). x are what the likelihood scores."""
    if len(pieces.latent_shapes) != 1:
        raise ValueError('bbans: one latent layer; code a hierarchy with Bit-Swap')
    shape = tuple(pieces.latent_shapes[0])

    @jax.jit
    def grid(variables):
        return buckets.of_prior(pieces.prior(variables, 1, None), shape, latent_bits)

    @jax.jit
    def posterior(variables, bk, stack, x, z, push):
        cdf = buckets.cdf_of(pieces.posterior(variables, 1, x), bk, latent_precision)
        return codecs.push_or_pop(codecs.categorical(cdf, latent_precision), stack, z, push)

    @jax.jit
    def likelihood(variables, bk, stack, z, x, push):
        dist = pieces.likelihood(variables, buckets.values(bk, z))
        cdf = tables.cdf_from_log_probs(dist.bin_log_probs(), data_precision)
        return codecs.push_or_pop(codecs.categorical(cdf, data_precision), stack, x, push)

    @jax.jit
    def prior(stack, z, push):
        return codecs.push_or_pop(codecs.uniform(shape, latent_bits), stack, z, push)

    def encode(variables, x, stack):
        bk = grid(variables)
        x = jnp.asarray(x, jnp.int32)
        z0 = jnp.zeros((x.shape[0], *shape), jnp.int32)
        z, stack = posterior(variables, bk, stack, x, z0, False)
        _, stack = likelihood(variables, bk, stack, z, x, True)
        return prior(stack, z, True)[1]

    def decode(variables, stack):
        bk = grid(variables)
        num = stack.num_streams
        z, stack = prior(stack, jnp.zeros((num, *shape), jnp.int32), False)
        x0 = jnp.zeros((num, *data_shape), jnp.int32)
        x, stack = likelihood(variables, bk, stack, z, x0, False)
        return x, posterior(variables, bk, stack, x, z, True)[1]

    return BBANS(encode, decode)


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
