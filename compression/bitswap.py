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
same chain would pop all L layers before pushing any and need more initial bits; the net rates
are the same.

Each stage (q of a layer, p of a layer, p(x | z_1), the top prior) is one compiled program that
computes its table and pushes or pops, shared by both directions (see `compression.bbans`).
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
    pieces,
    data_shape: tuple[int, ...],
    latent_bits: int = 10,
    latent_precision: int = 20,
    data_precision: int = 16,
) -> BitSwap:
    shapes = [tuple(s) for s in pieces.latent_shapes]
    num_layers, shape = len(shapes), shapes[-1]
    if any(s != shape for s in shapes):
        raise ValueError(f'bitswap: one grid for all layers needs equal latent shapes: {shapes}')

    @jax.jit
    def grid(variables):
        return buckets.of_prior(pieces.prior(variables, num_layers, None), shape, latent_bits)

    def latent_stage(dist, bk, stack, z, push):
        cdf = buckets.cdf_of(dist, bk, latent_precision)
        return codecs.push_or_pop(codecs.categorical(cdf, latent_precision), stack, z, push)

    @functools.partial(jax.jit, static_argnums=1)
    def posterior(variables, layer, bk, stack, below, z, push):
        """q(z_layer | below): below is x for layer 1, else z_{layer-1} as bucket indices."""
        value = below if layer == 1 else buckets.values(bk, below)
        return latent_stage(pieces.posterior(variables, layer, value), bk, stack, z, push)

    @functools.partial(jax.jit, static_argnums=1)
    def prior(variables, layer, bk, stack, above, z, push):
        dist = pieces.prior(variables, layer, buckets.values(bk, above))
        return latent_stage(dist, bk, stack, z, push)

    @jax.jit
    def likelihood(variables, bk, stack, z1, x, push):
        dist = pieces.likelihood(variables, buckets.values(bk, z1))
        cdf = tables.cdf_from_log_probs(dist.bin_log_probs(), data_precision)
        return codecs.push_or_pop(codecs.categorical(cdf, data_precision), stack, x, push)

    @jax.jit
    def top(stack, z, push):
        return codecs.push_or_pop(codecs.uniform(shape, latent_bits), stack, z, push)

    def encode(variables, x, stack):
        bk = grid(variables)
        x = jnp.asarray(x, jnp.int32)
        blank = jnp.zeros((x.shape[0], *shape), jnp.int32)
        z, stack = posterior(variables, 1, bk, stack, x, blank, False)
        _, stack = likelihood(variables, bk, stack, z, x, True)
        for layer in range(1, num_layers):
            above, stack = posterior(variables, layer + 1, bk, stack, z, blank, False)
            _, stack = prior(variables, layer, bk, stack, above, z, True)
            z = above
        return top(stack, z, True)[1]

    def decode(variables, stack):
        bk = grid(variables)
        num = stack.num_streams
        blank = jnp.zeros((num, *shape), jnp.int32)
        z, stack = top(stack, blank, False)
        for layer in range(num_layers - 1, 0, -1):
            below, stack = prior(variables, layer, bk, stack, z, blank, False)
            _, stack = posterior(variables, layer + 1, bk, stack, below, z, True)
            z = below
        x0 = jnp.zeros((num, *data_shape), jnp.int32)
        x, stack = likelihood(variables, bk, stack, z, x0, False)
        return x, posterior(variables, 1, bk, stack, x, z, True)[1]

    return BitSwap(encode, decode)
