"""The distributions of the latent-variable families, as the `Distribution` pieces coders use.

Each is a pytree (it can leave a jitted function) with `log_prob(value)` per element in nats and
`sample(rng)`. Continuous ones add `cdf` and `icdf` per element, so a coder can bucket them
(BB-ANS, Bit-Swap); discrete ones add `bin_log_probs()` [..., K], the normalised table over all K
values of each element.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct
from jax.scipy.special import ndtr, ndtri

from models.autoregressive.logistic_mixture import LogisticMixtureHead, bin_log_prob

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def sum_except_batch(x: jax.Array) -> jax.Array:
    return x.reshape(x.shape[0], -1).sum(axis=-1)


@struct.dataclass
class DiagonalGaussian:
    mean: jax.Array
    log_scale: jax.Array

    def log_prob(self, value):
        t = (value - self.mean) * jnp.exp(-self.log_scale)
        return -0.5 * jnp.square(t) - self.log_scale - HALF_LOG_2PI

    def sample(self, rng):
        return self.mean + jnp.exp(self.log_scale) * jax.random.normal(rng, self.mean.shape)

    def cdf(self, value):
        return ndtr((value - self.mean) * jnp.exp(-self.log_scale))

    def icdf(self, u):
        return self.mean + jnp.exp(self.log_scale) * ndtri(u)

    def kl(self, other: DiagonalGaussian):
        """KL(self || other) per element, in closed form."""
        ratio = jnp.exp(2.0 * (self.log_scale - other.log_scale))
        shift = jnp.square((self.mean - other.mean) * jnp.exp(-other.log_scale))
        return 0.5 * (ratio + shift - 1.0) - (self.log_scale - other.log_scale)


def standard_gaussian(shape) -> DiagonalGaussian:
    return DiagonalGaussian(jnp.zeros(shape), jnp.zeros(shape))


@struct.dataclass
class Logistic:
    """The continuous logistic (Bit-Swap's latent conditionals): heavier tails than a Gaussian,
    a closed-form cdf and icdf."""

    mean: jax.Array
    log_scale: jax.Array

    def log_prob(self, value):
        t = (value - self.mean) * jnp.exp(-self.log_scale)
        return -t - 2.0 * jax.nn.softplus(-t) - self.log_scale

    def sample(self, rng):
        u = jax.random.uniform(rng, self.mean.shape, minval=1e-6, maxval=1.0 - 1e-6)
        return self.icdf(u)

    def cdf(self, value):
        return jax.nn.sigmoid((value - self.mean) * jnp.exp(-self.log_scale))

    def icdf(self, u):
        return self.mean + jnp.exp(self.log_scale) * (jnp.log(u) - jnp.log1p(-u))


@struct.dataclass
class Bernoulli:
    logits: jax.Array

    def log_prob(self, value):
        return value * self.logits - jax.nn.softplus(self.logits)

    def sample(self, rng):
        u = jax.random.uniform(rng, self.logits.shape)
        return (u < jax.nn.sigmoid(self.logits)).astype(jnp.float32)

    def bin_log_probs(self):
        return jnp.stack([jax.nn.log_sigmoid(-self.logits), jax.nn.log_sigmoid(self.logits)], -1)


@struct.dataclass
class DiscretizedLogistic:
    """One logistic per element over K levels at 2k/(K-1) - 1 (tails into the end bins), the
    PixelCNN++ binning, so the K bins of every element sum to one exactly."""

    mean: jax.Array
    log_scale: jax.Array
    num_levels: int = struct.field(pytree_node=False)

    def log_prob(self, value):
        return bin_log_prob(value, self.mean, self.log_scale, self.num_levels)

    def bin_log_probs(self):
        levels = jnp.arange(self.num_levels)
        return bin_log_prob(
            levels, self.mean[..., None], self.log_scale[..., None], self.num_levels
        )

    def sample(self, rng):
        return jax.random.categorical(rng, self.bin_log_probs(), axis=-1).astype(jnp.int32)


@struct.dataclass
class DiscretizedLogisticMixture:
    """PixelCNN++'s mixture with channel coupling; `out` [B, H, W, P] per pixel. `log_prob` is per
    pixel (the channels of a pixel are coupled), `conditionals(value)` per sub-pixel [.., C, K]."""

    out: jax.Array
    channels: int = struct.field(pytree_node=False)
    num_levels: int = struct.field(pytree_node=False)
    num_mix: int = struct.field(pytree_node=False)

    @property
    def head(self) -> LogisticMixtureHead:
        return LogisticMixtureHead(self.channels, self.num_levels, self.num_mix)

    def log_prob(self, value):
        return self.head.pixel_log_prob(self.out, value)

    def conditionals(self, value):
        return self.head.conditionals(self.out, value)

    def sample(self, rng):
        """Channel by channel: each draw conditions the next channel's mixture weights."""
        x = jnp.zeros((*self.out.shape[:-1], self.channels), jnp.int32)
        for c, key in enumerate(jax.random.split(rng, self.channels)):
            logp = self.head.conditional(self.out, x, c)
            x = x.at[..., c].set(jax.random.categorical(key, logp, axis=-1))
        return x
