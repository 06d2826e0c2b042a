"""The pieces of the VAE objectives and bounds: KL warm-up, free bits, and the importance-weighted
bound (Burda, Grosse & Salakhutdinov 2015, arXiv:1509.00519) chunked over the samples.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


def kl_weight(step: jax.Array, warmup_steps: int) -> jax.Array:
    """beta of the KL term: linear from 1/warmup to 1 over the first `warmup_steps` steps."""
    if warmup_steps <= 0:
        return jnp.float32(1.0)
    return jnp.minimum(1.0, (step.astype(jnp.float32) + 1.0) / warmup_steps)


def free_bits_kl(kl: jax.Array, floor: float, num_groups: int) -> jax.Array:
    """The free-bits KL objective (Kingma et al. 2016, eq. 15): the latent elements [B, N] are cut
    into `num_groups` contiguous groups; each group's KL, averaged over the batch, counts at least
    `floor` nats, so a group below its floor gets no gradient from the KL term. Returns the
    per-batch scalar sum over groups (with floor 0: the mean total KL)."""
    per_group = kl.reshape(kl.shape[0], num_groups, -1).sum(axis=-1).mean(axis=0)  # [G]
    return jnp.sum(jnp.maximum(per_group, floor)) if floor > 0 else jnp.sum(per_group)


def importance_weighted(
    log_weights: Callable[[jax.Array, int], jax.Array],
    rng: jax.Array,
    num_samples: int,
    chunk: int,
) -> jax.Array:
    """log (1/k) sum_i w_i for k = num_samples, with `log_weights(key, n) -> [n, B]` (log p(x, z_i)
    - log q(z_i | x) for n fresh posterior draws) called on chunks of `chunk` samples inside a
    `lax.scan`, so memory holds one chunk whatever k is. The sum is a running logsumexp; a last
    chunk that overshoots k is masked. Chunk i draws with fold_in(rng, i)."""
    return importance_weighted_and_elbo(log_weights, rng, num_samples, chunk)[0]


def importance_weighted_and_elbo(
    log_weights: Callable[[jax.Array, int], jax.Array],
    rng: jax.Array,
    num_samples: int,
    chunk: int,
) -> tuple[jax.Array, jax.Array]:
    """`importance_weighted` and, from the same draws, the mean log-weight (the ELBO estimated
    with k samples): one pass of the model instead of a second one for the ELBO."""
    if num_samples < 1 or chunk < 1:
        raise ValueError(
            f'importance_weighted: need k >= 1 and chunk >= 1, got {num_samples}, {chunk}'
        )
    chunk = min(chunk, num_samples)
    num_chunks = -(-num_samples // chunk)

    def body(carry, i):
        top, total, log_w_sum = carry
        lw = log_weights(jax.random.fold_in(rng, i), chunk)
        valid = (i * chunk + jnp.arange(chunk) < num_samples)[:, None]
        log_w_sum = log_w_sum + jnp.sum(jnp.where(valid, lw, 0.0), axis=0)
        lw = jnp.where(valid, lw, -jnp.inf)
        new_top = jnp.maximum(top, lw.max(axis=0))
        total = total * jnp.exp(top - new_top) + jnp.sum(jnp.exp(lw - new_top), axis=0)
        return (new_top, total, log_w_sum), None

    batch = jax.eval_shape(lambda key: log_weights(key, chunk), rng).shape[1]
    start = (jnp.full((batch,), -jnp.inf), jnp.zeros((batch,)), jnp.zeros((batch,)))
    (top, total, log_w_sum), _ = jax.lax.scan(body, start, jnp.arange(num_chunks))
    iw = jnp.log(total) + top - jnp.log(float(num_samples))
    return iw, log_w_sum / num_samples
