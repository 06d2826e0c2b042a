"""Continuous latents as discrete symbols: max-entropy buckets of a prior (BB-ANS, Townsend et
al. 2019, section 2.5.1; Bit-Swap).

The prior's real line is cut into N = 2^bits buckets of equal prior mass at its quantiles
icdf(k / N), so under the prior every bucket costs exactly `bits` bits (a uniform codec, no
table); a bucket stands for the value at its median, icdf((k + 1/2) / N). Another continuous
distribution (a posterior) is coded over the same buckets with the mass its cdf puts in each,
quantised by `tables.cdf_from_edges`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from compression import codecs, tables


class Buckets(NamedTuple):
    edges: jax.Array  # [N - 1, *shape] inner edges
    centres: jax.Array  # [N, *shape] the value each bucket stands for
    bits: int


def of_prior(prior, shape: tuple[int, ...], bits: int) -> Buckets:
    """Max-entropy buckets of `prior` (a distribution with icdf, per element over `shape`)."""
    n = 1 << bits
    ones = (1,) * len(shape)
    quantiles = jnp.arange(1, n, dtype=jnp.float32).reshape(-1, *ones) / n
    mids = (jnp.arange(n, dtype=jnp.float32).reshape(-1, *ones) + 0.5) / n
    edges = jnp.broadcast_to(prior.icdf(quantiles), (n - 1, *shape))
    centres = jnp.broadcast_to(prior.icdf(mids), (n, *shape))
    return Buckets(edges, centres, bits)


def values(buckets: Buckets, index: jax.Array) -> jax.Array:
    """Bucket indices [B, *shape] -> the values they stand for."""
    centres = buckets.centres
    flat = centres.reshape(centres.shape[0], -1)  # [N, E]
    idx = index.reshape(index.shape[0], -1)  # [B, E]
    return flat[idx, jnp.arange(flat.shape[1])].reshape(index.shape)


def cdf_of(dist, buckets: Buckets, precision: int) -> jax.Array:
    """The integer table [B, *shape, N + 1] of `dist` (batch [B, *shape]) over the buckets."""
    c = dist.cdf(buckets.edges[:, None])  # [N - 1, B, *shape]
    return tables.cdf_from_edges(jnp.moveaxis(c, 0, -1), precision)


def prior_codec(buckets: Buckets, shape: tuple[int, ...]) -> codecs.Codec:
    """Bucket indices [B, *shape] under the prior: `bits` bits each."""
    return codecs.uniform(shape, buckets.bits)
