"""Semi-supervised GAN with a K+1-class discriminator and a feature-matching generator.

Salimans et al., "Improved Techniques for Training GANs", arXiv:1606.03498, section 5. The
discriminator outputs K class logits l(x); the K+1-th ("fake") logit is fixed at 0, so
    p(fake | x) = 1 / (Z(x) + 1),  Z(x) = sum_k exp(l_k(x)),  D(x) = Z(x) / (Z(x) + 1).
Losses:
    supervised   = -E_{(x,y) labelled} log p(y | x, y < K+1) = cross-entropy of softmax(l) and y
    unsupervised = -E_x log D(x) - E_z log(1 - D(G(z)))
                 = E_x [softplus(lse(l(x))) - lse(l(x))] + E_z softplus(lse(l(G(z))))
The released code weights the unsupervised part by 1/2 (`unsupervised_weight`). The generator
minimises feature matching on the discriminator's last hidden layer.

The labelled examples come from the data layer, as the auxiliary source 'labelled':
    config.data.aux.labelled = aux_source(split='train', batch_size=B, per_class=n, subset_seed=s)
holds n examples per class of the split, chosen by the seed (models/data/subsets.py), and each
step's B labelled rows arrive as batch['aux']['labelled'] = {<image key>: ..., 'label': ...} next
to the unlabelled batch of the main source (all training examples, labels ignored). Without a
'labelled' source every label is used: the loader's batch is then also the labelled batch.
`unsupervised=False` trains the same classifier on the labelled examples alone: the baseline the
GAN must beat.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from models.core.family import Evaluation, Family
from models.data import DatasetSpec
from models.gan import data_scaling, losses, players, sample_quality, techniques
from models.gan.networks import NORMS, Discriminator, Generator, check_shape


def supervised_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Cross-entropy of the K real classes: [B, K] logits, [B] integer labels."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def unsupervised_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """-E log D(x) - E log(1 - D(G(z))) with D = Z / (Z + 1), Z = sum_k exp(l_k)."""
    real_lse = jax.nn.logsumexp(real_logits, axis=-1)  # [B] log Z(x)
    fake_lse = jax.nn.logsumexp(fake_logits, axis=-1)
    return jnp.mean(jax.nn.softplus(real_lse) - real_lse) + jnp.mean(jax.nn.softplus(fake_lse))


LABELLED = 'labelled'  # the auxiliary source (config.data.aux.<name>) of the labelled examples


def labelled_spec(data_spec, aux_specs) -> DatasetSpec | None:
    """The spec of the labelled rows in batch['aux'], or None: the main batch's own labels.

    Refuses what the K+1 discriminator cannot train on: data without labels, or a labelled source
    whose images, levels or classes differ from the main source's.
    """
    if data_spec.num_classes is None:
        raise ValueError(f'dataset {data_spec.name!r} has no labels for the K+1 classifier')
    unknown = sorted(set(aux_specs or {}) - {LABELLED})
    if unknown:
        raise ValueError(
            f'config.data.aux names {unknown}; the semi-supervised GAN reads only '
            f'{LABELLED!r} (its labelled examples)'
        )
    spec = (aux_specs or {}).get(LABELLED)
    if spec is None:
        return None
    main = (tuple(data_spec.shape), data_spec.num_levels, data_spec.num_classes)
    aux = (tuple(spec.shape), spec.num_levels, spec.num_classes)
    if aux != main:
        raise ValueError(
            f'config.data.aux.{LABELLED} ({spec.name!r}) has (shape, levels, classes) {aux}, the '
            f'main data ({data_spec.name!r}) {main}: the discriminator needs them equal'
        )
    return spec


def make(
    data_spec,
    aux_specs: dict[str, DatasetSpec] | None = None,
    unsupervised: bool = True,
    unsupervised_weight: float = 0.5,
    latent_dim: int = 100,
    gen_width: int = 64,
    disc_width: int = 64,
    gen_norm: str = 'batch',
    gen_hidden: int = 0,
    disc_extra_convs: int = 0,
    disc_downsamplings: int = 0,
    disc_global_pool: bool = False,
    disc_dropout: float = 0.0,
    disc_input_dropout: float = 0.0,
    minibatch_kernels: int = 0,
    minibatch_dim: int = 5,
    gen_loss: str = 'feature_matching',
    dequantize: bool = True,
    feature_net: str = 'none',
    inception_weights: str = '',
    score_splits: int = 1,
) -> Family:
    """aux_specs: the auxiliary sources' specs (the trainer passes config.data.aux's); a
    'labelled' one supplies the labelled rows, otherwise the main batch's labels are used.
    gen_loss: 'feature_matching' (the semi-supervised results) or 'non_saturating'
    (-log D(G(z)) with D = Z / (Z + 1), the Inception-score model with minibatch features).
    feature_net / inception_weights / score_splits: also score samples (sample_quality.py)."""
    losses.check_choice('gen_loss', gen_loss, ('feature_matching', 'non_saturating'))
    losses.check_choice('gen_norm', gen_norm, NORMS)
    check_shape(tuple(data_spec.shape))
    labelled = labelled_spec(data_spec, aux_specs)
    num_classes, key = int(data_spec.num_classes), data_spec.key
    reference = 64 if gen_norm == 'virtual' else 0
    gen = players.Player(
        Generator(tuple(data_spec.shape), gen_width, gen_norm, gen_hidden, 4, reference),
        reference_size=reference,
        latent_dim=latent_dim,
    )
    # No batch norm in D: its classifier is evaluated one test batch at a time, and the paper's
    # discriminators use weight norm and dropout instead.
    disc = players.Player(
        Discriminator(
            width=disc_width,
            outputs=num_classes,
            norm='none',
            extra_convs=disc_extra_convs,
            downsamplings=disc_downsamplings,
            global_pool=disc_global_pool,
            dropout=disc_dropout,
            input_dropout=disc_input_dropout,
            minibatch_kernels=minibatch_kernels,
            minibatch_dim=minibatch_dim,
        )
    )

    def init(rng, batch):
        gen_rng, disc_rng, z_rng = jax.random.split(rng, 3)
        z = players.latents(z_rng, batch[key].shape[0], latent_dim)
        real = data_scaling.real_inputs(batch[key], data_spec, None, dequantize=False)
        return players.init_gan(gen, disc, gen_rng, disc_rng, z, real)

    def labelled_inputs(batch, real, rng):
        """(discriminator inputs [L, ...], labels [L]) of this step's labelled examples."""
        if labelled is None:  # every training example is labelled: the loader's batch is the batch
            return real, batch['label']
        rows = batch['aux'][LABELLED]
        images = data_scaling.real_inputs(rows[labelled.key], data_spec, rng, dequantize)
        return images, rows['label']

    def loss(variables, batch, ctx):
        params, state = variables
        rngs = jax.random.split(ctx.rng, 6)
        real = data_scaling.real_inputs(batch[key], data_spec, rngs[0], dequantize)
        labelled_x, targets = labelled_inputs(batch, real, rngs[1])
        z = players.latents(rngs[2], real.shape[0], latent_dim)
        fake, gen_stats = players.apply_player(gen, params['gen'], state['gen'], z, True)

        def classify(x, rng):
            return players.apply_player(disc, params['disc'], state['disc'], x, True, rng)[0]

        _, labelled_logits = classify(labelled_x, rngs[3])
        real_features, real_logits = classify(real, rngs[4])
        fake_features, fake_logits = classify(fake, rngs[5])
        supervised = supervised_loss(labelled_logits, targets)
        unsup = unsupervised_loss(real_logits, fake_logits)
        disc_loss = supervised + (unsupervised_weight * unsup if unsupervised else 0.0)
        if gen_loss == 'feature_matching':
            gen_objective = techniques.feature_matching(real_features, fake_features)
        else:
            fake_lse = jax.nn.logsumexp(fake_logits, axis=-1)  # log Z = logit of D
            gen_objective = losses.non_saturating_generator_loss(fake_lse)
        correct = jnp.argmax(labelled_logits, -1) == targets
        metrics = {
            'disc/supervised': supervised,
            'disc/unsupervised': unsup,
            'disc/labelled_accuracy': correct.mean(),
            'disc/real_prob': jnp.mean(jax.nn.sigmoid(jax.nn.logsumexp(real_logits, -1))),
            'disc/fake_prob': jnp.mean(jax.nn.sigmoid(jax.nn.logsumexp(fake_logits, -1))),
        }
        new_state = {'gen': players.merged_state(state['gen'], gen_stats), 'disc': state['disc']}
        return {'disc': disc_loss, 'gen': gen_objective}, metrics, new_state

    def generate(variables, rng, num):
        params, state = variables
        z = players.latents(rng, num, latent_dim)
        return players.apply_player(gen, params['gen'], state['gen'], z, False)[0]

    def sample(variables, rng, num):
        return data_scaling.to_data(generate(variables, rng, num), data_spec)

    def real_view(x):
        return data_scaling.real_inputs(x, data_spec, None, dequantize=False)

    def class_logits(variables, x):
        params, state = variables
        return players.apply_player(disc, params['disc'], state['disc'], x, False)[0][1]

    def real_logit(variables, x):
        return jax.nn.logsumexp(class_logits(variables, x), axis=-1)

    net = sample_quality.resolve_feature_net(data_spec, feature_net, inception_weights)
    quality = None
    if net is not None:
        quality = sample_quality.make_evaluation(
            data_spec, real_view, generate, real_logit, net, score_splits
        )

    def outputs(variables, batch, rng):
        logits = class_logits(variables, real_view(batch[key]))
        rows = {'correct': (jnp.argmax(logits, -1) == batch['label']).astype(jnp.float32)}
        if quality is not None:
            rows.update(quality.outputs(variables, batch, rng))
        return rows

    def summarize(rows):
        wrong = float(np.sum(1.0 - rows['correct']))
        result = {'test/error': wrong / len(rows['correct']), 'test/errors': wrong}
        if quality is not None:
            result.update(quality.summarize(rows))
        return result

    return Family(init, loss, sample, evaluation=Evaluation(outputs, summarize))
