"""InfoGAN: a GAN whose latent code c = (categorical, continuous) must be recoverable from the
samples, through a recognition head Q that shares the discriminator's body.

Chen, Duan, Houthooft, Schulman, Sutskever, Abbeel, "InfoGAN: Interpretable Representation
Learning by Information Maximizing Generative Adversarial Nets", arXiv:1606.03657. The mutual
information lower bound (section 5)
    L_I(G, Q) = E_{c ~ p(c), x ~ G(z, c)} log Q(c | x) + H(c) <= I(c; G(z, c))
is maximised by both the generator and Q (the discriminator player, whose params hold Q):
    disc: GAN loss + lambda * (-L_I),   gen: non-saturating loss + lambda * (-L_I).
Q is a softmax over the categorical code and a unit-variance Gaussian over each continuous code
(as in the released MNIST model), so -L_I + H(c) = cross-entropy + 1/2 ||c - mu(x)||^2 + const.
The metric `info/mi_lower_bound` is the categorical part, H(cat) - cross-entropy, in nats (at
most log K). Evaluation: the categorical code Q predicts for each real test image, scored as a
classifier under the best one-to-one matching of codes to labels (test/code_accuracy).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from models.core.family import Evaluation, Family
from models.gan import data_scaling, losses, players
from models.gan.metrics.matching import best_matching_accuracy
from models.gan.networks import Discriminator, Generator, QHead, check_shape


class InfoDiscriminator(nn.Module):
    """x -> (features, real/fake logit [N, 1], code logits [N, K], continuous means [N, C])."""

    body: Discriminator
    q: QHead

    @nn.compact
    def __call__(self, x, train):
        features, logits = self.body(x, train)
        categorical, continuous = self.q(features, train)
        return features, logits, categorical, continuous


def sample_codes(rng, num: int, noise_dim: int, categorical: int, continuous: int):
    """(generator input [N, noise + K + C], categorical code [N], continuous codes [N, C])."""
    noise_rng, cat_rng, cont_rng = jax.random.split(rng, 3)
    noise = jax.random.normal(noise_rng, (num, noise_dim))
    code = jax.random.randint(cat_rng, (num,), 0, categorical)
    cont = jax.random.uniform(cont_rng, (num, continuous), minval=-1.0, maxval=1.0)
    z = jnp.concatenate([noise, jax.nn.one_hot(code, categorical), cont], axis=-1)
    return z, code, cont


def information_loss(code_logits, code, cont_mean, cont) -> tuple[jax.Array, jax.Array]:
    """(-L_I up to a constant, the categorical cross-entropy) for one batch."""
    cross_entropy = optax.softmax_cross_entropy_with_integer_labels(code_logits, code).mean()
    gaussian = 0.5 * jnp.sum((cont - cont_mean) ** 2, axis=-1).mean()
    return cross_entropy + gaussian, cross_entropy


def make(
    data_spec,
    noise_dim: int = 62,
    categorical: int = 10,
    continuous: int = 2,
    info_weight: float = 1.0,
    gen_width: int = 64,
    gen_hidden: int = 1024,
    disc_width: int = 64,
    q_hidden: int = 128,
    dequantize: bool = True,
) -> Family:
    """Defaults: the paper's MNIST model (62 noise dims, Cat(10), 2 Uniform(-1, 1) codes,
    lambda 1, a 1024-unit dense layer in G, a 128-unit Q head)."""
    if categorical < 2 or continuous < 0 or info_weight < 0:
        raise ValueError('need categorical >= 2, continuous >= 0 and info_weight >= 0')
    check_shape(tuple(data_spec.shape))
    key = data_spec.key
    latent_dim = noise_dim + categorical + continuous
    gen = players.Player(
        Generator(tuple(data_spec.shape), gen_width, 'batch', gen_hidden), latent_dim=latent_dim
    )
    disc = players.Player(
        InfoDiscriminator(
            Discriminator(width=disc_width, norm='batch'),
            QHead(categorical, max(continuous, 1), q_hidden),
        )
    )

    def init(rng, batch):
        gen_rng, disc_rng, z_rng = jax.random.split(rng, 3)
        z = sample_codes(z_rng, batch[key].shape[0], noise_dim, categorical, continuous)[0]
        real = data_scaling.real_inputs(batch[key], data_spec, None, dequantize=False)
        return players.init_gan(gen, disc, gen_rng, disc_rng, z, real)

    def loss(variables, batch, ctx):
        params, state = variables
        noise_rng, z_rng = jax.random.split(ctx.rng)
        real = data_scaling.real_inputs(batch[key], data_spec, noise_rng, dequantize)
        z, code, cont = sample_codes(z_rng, real.shape[0], noise_dim, categorical, continuous)
        fake, gen_stats = players.apply_player(gen, params['gen'], state['gen'], z, True)
        (_, real_logits, _, _), disc_stats = players.apply_player(
            disc, params['disc'], state['disc'], real, True
        )
        (_, fake_logits, code_logits, cont_mean), _ = players.apply_player(
            disc, params['disc'], state['disc'], fake, True
        )
        real_logits, fake_logits = real_logits[:, 0], fake_logits[:, 0]
        info, cross_entropy = information_loss(code_logits, code, cont_mean[:, :continuous], cont)
        metrics = {
            'disc/real_prob': losses.mean_probability(real_logits),
            'disc/fake_prob': losses.mean_probability(fake_logits),
            'info/mi_lower_bound': math.log(categorical) - cross_entropy,
            'info/code_accuracy_on_samples': jnp.mean(jnp.argmax(code_logits, -1) == code),
        }
        new_state = {
            'gen': players.merged_state(state['gen'], gen_stats),
            'disc': players.merged_state(state['disc'], disc_stats),
        }
        disc_loss = losses.discriminator_loss(real_logits, fake_logits) + info_weight * info
        gen_loss = losses.non_saturating_generator_loss(fake_logits) + info_weight * info
        return {'disc': disc_loss, 'gen': gen_loss}, metrics, new_state

    def generate(variables, z):
        params, state = variables
        return players.apply_player(gen, params['gen'], state['gen'], z, False)[0]

    def sample(variables, rng, num):
        """Rows cycle through the categorical values, so a grid shows one code per column."""
        z, _, _ = sample_codes(rng, num, noise_dim, categorical, continuous)
        code = jnp.arange(num) % categorical
        z = z.at[:, noise_dim : noise_dim + categorical].set(jax.nn.one_hot(code, categorical))
        return data_scaling.to_data(generate(variables, z), data_spec)

    def outputs(variables, batch, rng):
        del rng  # Q's code for real images: deterministic
        params, state = variables
        x = data_scaling.real_inputs(batch[key], data_spec, None, dequantize=False)
        code_logits = players.apply_player(disc, params['disc'], state['disc'], x, False)[0][2]
        return {'code': jnp.argmax(code_logits, -1), 'label': batch['label']}

    def summarize(rows):
        num_labels = int(data_spec.num_classes or (np.max(rows['label']) + 1))
        accuracy, _ = best_matching_accuracy(rows['code'], rows['label'], categorical, num_labels)
        return {'test/code_accuracy': accuracy, 'test/code_error': 1.0 - accuracy}

    return Family(init, loss, sample, evaluation=Evaluation(outputs, summarize))
