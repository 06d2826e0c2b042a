"""Bit-Swap (F. Kingma, Abbeel, Ho 2019): bits-back coding interleaved through a Markov chain of
latent layers x -> z_1 -> ... -> z_L (`models.core.pieces.LatentVariable`, e.g. the hierarchy in
`models/vae/hierarchy.py`), so only the first posterior pop needs initial bits.

Per image, encode (decode runs the exact reverse):
  pop z_1 ~ q(z_1 | x);            push x with p(x | z_1)
  for i = 1 .. L-1: pop z_{i+1} ~ q(z_{i+1} | z_i);  push z_i with p(z_i | z_{i+1})
  push z_L with p(z_L)
Every layer's latents live on one grid: the max-entropy buckets of the top prior p(z_L) (the
standard logistic of the hierarchy), so p(z_L) costs exactly `latent_bits` per element and the
other conditionals are coded over the same buckets by their cdfs (`compression.buckets`); a
bucket stands for its median under p(z_L) when it conditions the next network. BB-ANS on the
same chain (`compression.bbans` for L = 1) would pop all L layers before pushing any, needing
more initial bits; the net rates of the two are the same.

Tables come from jitted model functions that encoder and decoder call with the same shapes, so
both get bit-identical tables (see `compression.bbans`).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from compression import buckets, codecs, tables


class BitSwap(NamedTuple):
    encode: Any  # (variables, x [B, *shape], stack) -> stack
    decode: Any  # (variables, stack) -> (x, stack)


def coder(
    pieces, latent_bits: int = 10, latent_precision: int = 20, data_precision: int = 16
) -> BitSwap:
    shapes = [tuple(s) for s in pieces.latent_shapes]
    num_layers, shape = len(shapes), shapes[-1]
    if any(s != shape for s in shapes):
        raise ValueError(f'bitswap: one grid for all layers needs equal latent shapes: {shapes}')

    @jax.jit
    def grid(variables):
        return buckets.of_prior(pieces.prior(variables, num_layers, None), shape, latent_bits)

    @functools.partial(jax.jit, static_argnums=2)
    def posterior_cdf(variables, bk, layer, below):
        """q(z_layer | below): below is x for layer 1, else z_{layer-1} as bucket indices."""
        value = below if layer == 1 else buckets.values(bk, below)
        return buckets.cdf_of(pieces.posterior(variables, layer, value), bk, latent_precision)

    @functools.partial(jax.jit, static_argnums=2)
    def prior_cdf(variables, bk, layer, above):
        dist = pieces.prior(variables, layer, buckets.values(bk, above))
        return buckets.cdf_of(dist, bk, latent_precision)

    @jax.jit
    def likelihood_cdf(variables, bk, z1):
        dist = pieces.likelihood(variables, buckets.values(bk, z1))
        return tables.cdf_from_log_probs(dist.bin_log_probs(), data_precision)

    top = codecs.uniform(shape, latent_bits)
    push_top, pop_top = jax.jit(top.push), jax.jit(top.pop)
    push, pop = codecs.push_table, codecs.pop_table

    def encode(variables, x, stack):
        bk = grid(variables)
        x = jnp.asarray(x, jnp.int32)
        z, stack = pop(stack, posterior_cdf(variables, bk, 1, x), latent_precision)
        stack = push(stack, likelihood_cdf(variables, bk, z), x, data_precision)
        for layer in range(1, num_layers):
            above, stack = pop(stack, posterior_cdf(variables, bk, layer + 1, z), latent_precision)
            stack = push(stack, prior_cdf(variables, bk, layer, above), z, latent_precision)
            z = above
        return push_top(stack, z)

    def decode(variables, stack):
        bk = grid(variables)
        z, stack = pop_top(stack)
        for layer in range(num_layers - 1, 0, -1):
            below, stack = pop(stack, prior_cdf(variables, bk, layer, z), latent_precision)
            stack = push(stack, posterior_cdf(variables, bk, layer + 1, below), z, latent_precision)
            z = below
        x, stack = pop(stack, likelihood_cdf(variables, bk, z), data_precision)
        stack = push(stack, posterior_cdf(variables, bk, 1, x), z, latent_precision)
        return x, stack

    return BitSwap(encode, decode)
