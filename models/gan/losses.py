"""GAN losses on discriminator logits l = log D / (1 - D), in numerically stable softplus form.

Goodfellow et al., "Generative Adversarial Nets", arXiv:1406.2661: the minimax game and the
non-saturating generator loss. One-sided label smoothing: Salimans et al., arXiv:1606.03498,
section 3.4 (only the real targets are smoothed; smoothing the fake ones would reinforce the
generator's current samples where the data density is zero).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

GENERATOR_LOSSES = ('non_saturating', 'minimax', 'feature_matching')


def sigmoid_cross_entropy(logits: jax.Array, target: float | jax.Array) -> jax.Array:
    """-t log sigmoid(l) - (1 - t) log(1 - sigmoid(l)), elementwise."""
    return target * jax.nn.softplus(-logits) + (1.0 - target) * jax.nn.softplus(logits)


def discriminator_loss(
    real_logits: jax.Array, fake_logits: jax.Array, label_smoothing: float = 0.0
) -> jax.Array:
    """-E log D(x) - E log(1 - D(G(z))), the real target lowered to 1 - label_smoothing."""
    real = sigmoid_cross_entropy(real_logits, 1.0 - label_smoothing)
    fake = sigmoid_cross_entropy(fake_logits, 0.0)
    return real.mean() + fake.mean()


def minimax_generator_loss(fake_logits: jax.Array) -> jax.Array:
    """E log(1 - D(G(z))): the generator's side of the zero-sum game (saturates early on)."""
    return -jax.nn.softplus(fake_logits).mean()


def non_saturating_generator_loss(fake_logits: jax.Array) -> jax.Array:
    """-E log D(G(z)): the same fixed point, strong gradients while D rejects the samples."""
    return jax.nn.softplus(-fake_logits).mean()


def generator_loss(kind: str, fake_logits: jax.Array) -> jax.Array:
    if kind == 'minimax':
        return minimax_generator_loss(fake_logits)
    if kind == 'non_saturating':
        return non_saturating_generator_loss(fake_logits)
    raise ValueError(f'generator loss {kind!r} is not a logit loss; choose from {GENERATOR_LOSSES}')


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f'{name}={value!r}; valid choices: {list(choices)}')


def mean_probability(logits: jax.Array) -> jax.Array:
    return jnp.mean(jax.nn.sigmoid(logits))
