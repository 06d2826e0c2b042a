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


def free_bits_per_channel(kl: jax.Array, floor: float) -> jax.Array:
    """Free bits per channel of a [B, H, W, C] map of KL terms (IAF's CIFAR-10 model and Bit-Swap:
    each channel's KL summed over positions, averaged over the batch, floored)."""
    channels_first = jnp.moveaxis(kl, -1, 1).reshape(kl.shape[0], -1)
    return free_bits_kl(channels_first, floor, kl.shape[-1])


def importance_weighted(
    log_weights: Callable[[jax.Array, int], jax.Array],
    rng: jax.Array,
    num_samples: int,
    chunk: int,
) -> tuple[jax.Array, jax.Array]:
    """(log (1/k) sum_i w_i, (1/k) sum_i log w_i) [B] for k = num_samples: the importance-weighted
    bound and the k-sample estimate of the ELBO, from the same draws. `log_weights(key, n)` ->
    [n, B] (log p(x, z_i) - log q(z_i | x) for n fresh posterior draws) is called on chunks of
    `chunk` samples inside a `lax.scan`, so memory holds one chunk whatever k is. The sum is a
    running logsumexp; a last chunk that overshoots k is masked. Chunk i draws with
    fold_in(rng, i)."""
    if num_samples < 1 or chunk < 1:
        raise ValueError(
            f'importance_weighted: need k >= 1 and chunk >= 1, got {num_samples}, {chunk}'
        )
    chunk = min(chunk, num_samples)
    num_chunks = -(-num_samples // chunk)

    def body(carry, i):
        top, total, plain = carry
        lw = log_weights(jax.random.fold_in(rng, i), chunk)
        valid = (i * chunk + jnp.arange(chunk) < num_samples)[:, None]
        plain = plain + jnp.sum(jnp.where(valid, lw, 0.0), axis=0)
        lw = jnp.where(valid, lw, -jnp.inf)
        new_top = jnp.maximum(top, lw.max(axis=0))
        total = total * jnp.exp(top - new_top) + jnp.sum(jnp.exp(lw - new_top), axis=0)
        return (new_top, total, plain), None

    batch = jax.eval_shape(lambda key: log_weights(key, chunk), rng).shape[1]
    start = (jnp.full((batch,), -jnp.inf), jnp.zeros((batch,)), jnp.zeros((batch,)))
    (top, total, plain), _ = jax.lax.scan(body, start, jnp.arange(num_chunks))
    return jnp.log(total) + top - jnp.log(float(num_samples)), plain / num_samples
