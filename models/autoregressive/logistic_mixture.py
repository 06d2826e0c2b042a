"""Discretised logistic mixture likelihood with channel coupling (PixelCNN++, Salimans, Karpathy,
Chen & Kingma 2017, arXiv:1701.05517), over any number of levels.

A pixel's C sub-pixels share one mixture: p(x) = sum_m pi_m prod_c p(x_c | m, x_<c), where
component m's mean for channel c is mu_{m,c} + sum_{c'<c} a_{m,c,c'} x_c' (the coupling
coefficients a = tanh(.)). Level k of K sits at 2k/(K-1) - 1 in [-1, 1] with bins of width
2/(K-1); the end bins take the logistic's tails, so the K bin probabilities sum to exactly one.

The bin probability sigma(a) - sigma(b) (a = (x + h - mu)/s, b = (x - h - mu)/s) is computed as
sigma(a) sigma(-b) (1 - exp(b - a)) in log space: exact, and stable far in the tails without the
PixelCNN++ code's density approximation, so training, evaluation and the coder's per-bin
distributions are one and the same function.

For a coder, `conditionals` gives p(x_c | x_<c, earlier pixels) over all K bins: the mixture
weights conditioned on the pixel's earlier channels, posterior_m ~ pi_m prod_{c'<c} p(x_c' | m).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

MIN_LOG_SCALE = -7.0


def num_outputs(channels: int, num_mix: int) -> int:
    """Per pixel: mixture logits, C means, C log-scales and C(C-1)/2 coupling coefficients."""
    return num_mix * (1 + 2 * channels + channels * (channels - 1) // 2)


def to_unit(levels: jax.Array, num_levels: int) -> jax.Array:
    """Integer levels -> bin centres in [-1, 1]."""
    return levels.astype(jnp.float32) * (2.0 / (num_levels - 1)) - 1.0


def _unpack(out: jax.Array, channels: int, num_mix: int):
    """[..., P] -> logits [..., M]; means, log-scales [..., C, M]; coeffs [..., C(C-1)/2, M]"""
    m, c = num_mix, channels
    logits = out[..., :m]
    rest = out[..., m:].reshape(*out.shape[:-1], -1, m)
    means = rest[..., :c, :]
    log_scales = jnp.maximum(rest[..., c : 2 * c, :], MIN_LOG_SCALE)
    coeffs = jnp.tanh(rest[..., 2 * c :, :])
    return logits, means, log_scales, coeffs


def _coupled_means(means: jax.Array, coeffs: jax.Array, x: jax.Array) -> jax.Array:
    """means [..., C, M] shifted by sum_{c'<c} a_{c,c'} x_c' (x: [..., C] in [-1, 1])."""
    channels = means.shape[-2]
    shifted = [means[..., 0, :]]
    pair = 0
    for c in range(1, channels):
        mean = means[..., c, :]
        for earlier in range(c):
            mean = mean + coeffs[..., pair, :] * x[..., earlier, None]
            pair += 1
        shifted.append(mean)
    return jnp.stack(shifted, axis=-2)


def bin_log_prob(
    level: jax.Array, mean: jax.Array, log_scale: jax.Array, num_levels: int
) -> jax.Array:
    """log P(level) under one discretised logistic (broadcasting; level is an integer array)."""
    half = 1.0 / (num_levels - 1)
    centre = to_unit(level, num_levels)
    inv_scale = jnp.exp(-log_scale)
    upper = inv_scale * (centre + half - mean)
    lower = inv_scale * (centre - half - mean)
    # log(sigma(upper) - sigma(lower)), exactly; upper - lower = 2 h / s > 0.
    interior = (
        jax.nn.log_sigmoid(upper)
        + jax.nn.log_sigmoid(-lower)
        + jnp.log(-jnp.expm1(-2.0 * half * inv_scale))
    )
    first = jax.nn.log_sigmoid(upper)  # P(x <= centre + h): the left tail goes to level 0
    last = jax.nn.log_sigmoid(-lower)  # the right tail goes to the top level
    return jnp.where(level == 0, first, jnp.where(level == num_levels - 1, last, interior))


class LogisticMixtureHead:
    """The output distribution of PixelCNN++ over `num_levels` bins per sub-pixel."""

    def __init__(self, channels: int, num_levels: int, num_mix: int):
        self.channels = channels
        self.num_levels = num_levels
        self.num_mix = num_mix
        self.num_outputs = num_outputs(channels, num_mix)

    def _components(self, out: jax.Array, levels: jax.Array):
        logits, means, log_scales, coeffs = _unpack(out, self.channels, self.num_mix)
        means = _coupled_means(means, coeffs, to_unit(levels, self.num_levels))
        return jax.nn.log_softmax(logits, axis=-1), means, log_scales

    def pixel_log_prob(self, out: jax.Array, levels: jax.Array) -> jax.Array:
        """out [..., P], levels [..., C] -> log p(pixel) [...]."""
        log_weights, means, log_scales = self._components(out, levels)
        per_channel = bin_log_prob(levels[..., None], means, log_scales, self.num_levels)
        return jax.nn.logsumexp(log_weights + per_channel.sum(axis=-2), axis=-1)

    def conditionals(self, out: jax.Array, levels: jax.Array) -> jax.Array:
        """log p(x_c = k | x_<c, context) for every k: [..., C, K]."""
        return self._conditionals(out, levels, slice(None))

    def conditional(self, out: jax.Array, levels: jax.Array, c: int) -> jax.Array:
        """Channel c alone, [..., K]: a sampler's need, at a third of the bins' work for RGB."""
        return self._conditionals(out, levels, slice(c, c + 1))[..., 0, :]

    def _conditionals(self, out: jax.Array, levels: jax.Array, channels: slice) -> jax.Array:
        log_weights, means, log_scales = self._components(out, levels)
        observed = bin_log_prob(levels[..., None], means, log_scales, self.num_levels)  # [..,C,M]
        # Posterior weights given the pixel's earlier channels: an exclusive cumulative sum by
        # shifting, not cumsum - observed, whose rounding would depend on x_c itself (a decoder
        # must reproduce these numbers bit for bit without knowing x_c).
        pad = [(0, 0)] * (observed.ndim - 2) + [(1, 0), (0, 0)]
        earlier = jnp.pad(jnp.cumsum(observed[..., :-1, :], axis=-2), pad)
        posterior = jax.nn.log_softmax(log_weights[..., None, :] + earlier, axis=-1)  # [.., C, M]
        posterior = posterior[..., channels, :]
        means, log_scales = means[..., channels, :, None], log_scales[..., channels, :, None]
        every = bin_log_prob(jnp.arange(self.num_levels), means, log_scales, self.num_levels)
        return jax.nn.logsumexp(posterior[..., None] + every, axis=-2)  # [..., C, K]
