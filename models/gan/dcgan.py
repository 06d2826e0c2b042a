"""DCGAN with the Improved-GAN techniques as switches: the family behind the DCGAN, Improved-GAN
(Inception score) and 2-D mixture experiments.

Radford, Metz, Chintala, arXiv:1511.06434 (networks, Adam lr 2e-4 b1 0.5, batch norm);
Salimans et al., "Improved Techniques for Training GANs", arXiv:1606.03498 (feature matching,
minibatch discrimination, historical averaging, one-sided label smoothing, virtual batch norm).

Players: 'disc' then 'gen' (config.optim order); the generator's update sees the updated
discriminator, as in alternating GAN training. Variables: params {'gen', 'disc'} (Flax weights)
and loop state {'gen': {...}, 'disc': {...}} (batch-norm statistics, VBN reference latents,
historical averages; see players.py).
"""

from __future__ import annotations

import jax

from models.core import images
from models.core.family import Family
from models.gan import data_scaling, losses, players, sample_quality, techniques
from models.gan.networks import NORMS, Discriminator, Generator, check_shape


def make(
    data_spec,
    latent_dim: int = 100,
    gen_width: int = 64,
    disc_width: int = 64,
    gen_norm: str = 'batch',
    disc_norm: str = 'batch',
    gen_hidden: int = 0,
    kernel: int = 4,
    disc_extra_convs: int = 0,
    disc_downsamplings: int = 0,
    disc_global_pool: bool = False,
    disc_dropout: float = 0.0,
    disc_input_dropout: float = 0.0,
    mlp_depth: int = 2,
    gen_loss: str = 'non_saturating',
    label_smoothing: float = 0.0,
    minibatch_kernels: int = 0,
    minibatch_dim: int = 5,
    historical_averaging: float = 0.0,
    vbn_reference_size: int = 64,
    dequantize: bool = True,
    image_size: int = 0,
    center_crop: int = 0,
    feature_net: str = 'auto',
    inception_weights: str = '',
    score_splits: int = 1,
) -> Family:
    """gen_loss: 'non_saturating', 'minimax' or 'feature_matching' (section 3.1).
    label_smoothing: s > 0 trains the discriminator towards 1 - s on real data (one-sided).
    minibatch_kernels: B > 0 appends B minibatch-discrimination features of `minibatch_dim` (C).
    historical_averaging: the weight of ||theta - mean of past theta||^2 in both players' losses.
    gen_norm='virtual': virtual batch norm in the generator with `vbn_reference_size` fixed
    reference latents.
    image_size / center_crop: train on centre crops resized to image_size x image_size (the
    CelebA recipe: 108 -> 64); samples then have that size. 0: the data's own shape.
    feature_net / inception_weights / score_splits: sample scoring (see sample_quality.py).
    """
    losses.check_choice('gen_loss', gen_loss, losses.GENERATOR_LOSSES)
    losses.check_choice('gen_norm', gen_norm, NORMS)
    losses.check_choice('disc_norm', disc_norm, ('batch', 'none'))
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f'label_smoothing must be in [0, 1), got {label_smoothing}')
    if historical_averaging < 0:
        raise ValueError(f'historical_averaging must be >= 0, got {historical_averaging}')
    if not image_size:
        check_shape(tuple(data_spec.shape))
    shape, key = tuple(data_spec.shape), data_spec.key
    if image_size:
        shape = (image_size, image_size, shape[-1])
        check_shape(shape)

    def real_view(x, rng=None):
        """The networks' view of real data: [-1, 1] (dequantised with rng), cropped, resized."""
        x = data_scaling.real_inputs(x, data_spec, rng, dequantize and rng is not None)
        if image_size:
            x = data_scaling.center_crop_resize(x, center_crop, image_size)
        return x

    reference = vbn_reference_size if gen_norm == 'virtual' else 0
    gen = players.Player(
        Generator(shape, gen_width, gen_norm, gen_hidden, kernel, reference, mlp_depth),
        history_weight=historical_averaging,
        reference_size=reference,
        latent_dim=latent_dim,
    )
    disc = players.Player(
        Discriminator(
            width=disc_width,
            norm=disc_norm,
            kernel=kernel,
            extra_convs=disc_extra_convs,
            downsamplings=disc_downsamplings,
            global_pool=disc_global_pool,
            dropout=disc_dropout,
            input_dropout=disc_input_dropout,
            minibatch_kernels=minibatch_kernels,
            minibatch_dim=minibatch_dim,
            mlp_depth=mlp_depth,
        ),
        history_weight=historical_averaging,
    )

    def init(rng, batch):
        gen_rng, disc_rng, z_rng = jax.random.split(rng, 3)
        z = players.latents(z_rng, batch[key].shape[0], latent_dim)
        return players.init_gan(gen, disc, gen_rng, disc_rng, z, real_view(batch[key]))

    def loss(variables, batch, ctx):
        params, state = variables
        noise_rng, z_rng, real_rng, fake_rng = jax.random.split(ctx.rng, 4)
        real = real_view(batch[key], noise_rng)
        z = players.latents(z_rng, real.shape[0], latent_dim)
        fake, gen_stats = players.apply_player(gen, params['gen'], state['gen'], z, True)
        # Real and fake batches go through D separately (DCGAN): batch norm never mixes them.
        (real_features, real_logits), disc_stats = players.apply_player(
            disc, params['disc'], state['disc'], real, True, real_rng
        )
        (fake_features, fake_logits), _ = players.apply_player(
            disc, params['disc'], state['disc'], fake, True, fake_rng
        )
        real_logits, fake_logits = real_logits[:, 0], fake_logits[:, 0]  # [B]
        disc_loss = losses.discriminator_loss(real_logits, fake_logits, label_smoothing)
        if gen_loss == 'feature_matching':
            gen_objective = techniques.feature_matching(real_features, fake_features)
        else:
            gen_objective = losses.generator_loss(gen_loss, fake_logits)
        disc_history, disc_avg = players.history_penalty(disc, params['disc'], state['disc'])
        gen_history, gen_avg = players.history_penalty(gen, params['gen'], state['gen'])
        metrics = {
            'disc/real_prob': losses.mean_probability(real_logits),
            'disc/fake_prob': losses.mean_probability(fake_logits),
            'gen/feature_distance': techniques.feature_matching(real_features, fake_features),
        }
        if historical_averaging:
            metrics['disc/history_penalty'] = disc_history
            metrics['gen/history_penalty'] = gen_history
        new_state = {
            'gen': players.merged_state(state['gen'], gen_stats, gen_avg),
            'disc': players.merged_state(state['disc'], disc_stats, disc_avg),
        }
        objectives = {'disc': disc_loss + disc_history, 'gen': gen_objective + gen_history}
        return objectives, metrics, new_state

    def generate(variables, rng, num):
        params, state = variables
        z = players.latents(rng, num, latent_dim)
        return players.apply_player(gen, params['gen'], state['gen'], z, False)[0]

    def sample(variables, rng, num):
        return data_scaling.to_data(generate(variables, rng, num), data_spec)

    def real_logit(variables, x):
        params, state = variables
        return players.apply_player(disc, params['disc'], state['disc'], x, False)[0][1][:, 0]

    net = sample_quality.resolve_feature_net(data_spec, feature_net, inception_weights)
    evaluation = sample_quality.make_evaluation(
        data_spec, real_view, generate, real_logit, net, score_splits
    )
    points = data_spec.num_levels is None and tuple(data_spec.shape) == (2,)
    render = images.save_points if points else None
    return Family(init=init, loss=loss, sample=sample, evaluation=evaluation, render=render)
