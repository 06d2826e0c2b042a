"""Deterministic integer probability tables: model outputs -> cumulative frequencies over
2^precision, computed the same way at encode and at decode time.

A table is an int32 cdf [..., K + 1] with cdf[..., 0] = 0, cdf[..., K] = 2^precision and every
symbol at least 1 (so every symbol stays codable however unlikely the model says it is).

Determinism. Only the first step is a transcendental (exp, or the caller's continuous cdf); the
rest is exact integer arithmetic or single IEEE float operations (multiply, divide, floor), which
are correctly rounded on every backend, and no float sum appears anywhere (the normaliser is an
integer sum, which is the same in any reduction order). So a table depends only on the bits of
`exp(log_probs - max)` per element: it is the same for any batch size, device count or process
count, and whenever encoder and decoder see bit-identical log-probs on the same platform. CPU and
GPU implement exp (and ndtr, sigmoid) differently, to within an ulp or two, so a stream written
on one and read on the other decodes only if no element lands on a rounding boundary; that is
not guaranteed (untested: the test machine has no GPU lent to this work).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

# w = floor(p * 2^WEIGHT_BITS(K)) with K weights summing below 2^30: no int32 overflow.
SUM_BITS = 30


def _check(num_symbols: int, precision: int):
    # The float rounding of the scaled weights can overshoot the total by up to 2 at precision
    # 23-24; the largest frequency absorbs it, and K <= 2^(precision - 2) keeps it above 2.
    if num_symbols < 1 or num_symbols > 1 << max(precision - 2, 0):
        need = math.ceil(math.log2(max(num_symbols, 1))) + 2
        raise ValueError(f'tables: {num_symbols} symbols need precision >= {need}, got {precision}')


def cdf_from_log_probs(log_probs: jax.Array, precision: int) -> jax.Array:
    """[..., K] log-probabilities (normalised or not; -inf and NaN get the minimum mass, +inf
    entries share the rest) ->
    int32 cdf [..., K + 1] summing to 2^precision, each symbol >= 1."""
    num = log_probs.shape[-1]
    _check(num, precision)
    total_mass = 1 << precision
    weight_bits = SUM_BITS - math.ceil(math.log2(num)) if num > 1 else SUM_BITS
    lp = log_probs.astype(jnp.float32)
    lp = jnp.where(jnp.isnan(lp), -jnp.inf, lp)
    top = jnp.max(lp, axis=-1, keepdims=True)
    # The top symbols get exactly 1 (also when top is +inf, or -inf: then every symbol ties).
    p = jnp.where(lp == top, 1.0, jnp.exp(lp - top))  # exp: the one platform-dependent step
    weight = jnp.floor(p * float(1 << weight_bits)).astype(jnp.int32)
    total = jnp.maximum(jnp.sum(weight, axis=-1, keepdims=True), 1)  # exact integer sum
    spare = float(total_mass - num)
    scaled = weight.astype(jnp.float32) * spare / total.astype(jnp.float32)
    freq = 1 + jnp.floor(scaled).astype(jnp.int32)
    deficit = total_mass - jnp.sum(freq, axis=-1, keepdims=True)  # usually >= 0, rarely -1/-2
    top_symbol = jnp.argmax(freq, axis=-1)[..., None]  # first of equals: fixed tie rule
    freq = freq + jnp.where(jnp.arange(num) == top_symbol, deficit, 0)
    return _cumulative(freq)


def cdf_from_edges(edge_cdf: jax.Array, precision: int) -> jax.Array:
    """Continuous cdf values at the K - 1 inner edges of K buckets [..., K - 1] -> int32 cdf
    [..., K + 1] of the buckets: floor(c * (2^p - K)) + k, so each bucket gets >= 1."""
    num = edge_cdf.shape[-1] + 1
    _check(num, precision)
    c = jnp.clip(edge_cdf.astype(jnp.float32), 0.0, 1.0)
    c = jnp.where(jnp.isnan(c), 0.0, c)
    # A cdf evaluated in float may dip by an ulp between edges; sorting restores monotonicity
    # (the identity on a monotone row) and compiles to one sort, where a cumulative max over
    # thousands of buckets compiled to an associative scan of about a second.
    c = jnp.sort(c, axis=-1)
    inner = jnp.floor(c * float((1 << precision) - num)).astype(jnp.int32)
    inner = inner + jnp.arange(1, num, dtype=jnp.int32)
    zero = jnp.zeros((*inner.shape[:-1], 1), jnp.int32)
    return jnp.concatenate([zero, inner, zero + (1 << precision)], axis=-1)


def _cumulative(freq: jax.Array) -> jax.Array:
    zero = jnp.zeros((*freq.shape[:-1], 1), jnp.int32)
    return jnp.concatenate([zero, jnp.cumsum(freq, axis=-1, dtype=jnp.int32)], axis=-1)


def frequencies(cdf: jax.Array) -> jax.Array:
    return jnp.diff(cdf, axis=-1)


def codelength_bits(cdf: jax.Array, symbols: jax.Array, precision: int) -> jax.Array:
    """-log2 of the quantised probability of each symbol ([...] from cdf [..., K + 1])."""
    freq = jnp.take_along_axis(frequencies(cdf), symbols[..., None].astype(jnp.int32), -1)
    return precision - jnp.log2(freq[..., 0].astype(jnp.float32))
