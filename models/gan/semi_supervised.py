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

The labelled examples are `labels_per_class` per class of the training split, chosen by a fixed
seed; every step draws a labelled batch from them (with replacement) next to the unlabelled batch
that the loader provides (all training examples, labels ignored). `labels_per_class=0` uses every
label: the loader's batch is then also the labelled batch. `unsupervised=False` trains the
same classifier on the labelled examples alone: the baseline the GAN must beat.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from models.core.family import STATE_UPDATES_KEY, Evaluation, Family
from models.data import open_split
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


def labelled_subset(labels: np.ndarray, per_class: int, num_classes: int, seed: int) -> np.ndarray:
    """Indices of `per_class` examples of every class, chosen by `seed` (sorted)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f'class {c} has {len(members)} examples, fewer than {per_class}')
        chosen.append(rng.permutation(members)[:per_class])
    return np.sort(np.concatenate(chosen))


def load_labelled(data_spec, per_class: int, seed: int, split: str, data_dir: str):
    """(images, labels) of the labelled subset of `split` of the dataset `data_spec` names."""
    if data_spec.num_classes is None:
        raise ValueError(f'dataset {data_spec.name!r} has no labels for semi-supervised training')
    source, _ = open_split(data_spec.name, split, data_dir or None)
    labels = np.array([source[i]['label'] for i in range(len(source))])
    chosen = labelled_subset(labels, per_class, data_spec.num_classes, seed)
    images = np.stack([source[int(i)][data_spec.key] for i in chosen])
    return images, labels[chosen].astype(np.int32)


def make(
    data_spec,
    labels_per_class: int = 10,
    label_seed: int = 0,
    label_split: str = 'train',
    data_dir: str = '',
    labelled_batch: int = 64,
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
    """gen_loss: 'feature_matching' (the semi-supervised results) or 'non_saturating'
    (-log D(G(z)) with D = Z / (Z + 1), the Inception-score model with minibatch features).
    feature_net / inception_weights / score_splits: also score samples (sample_quality.py)."""
    losses.check_choice('gen_loss', gen_loss, ('feature_matching', 'non_saturating'))
    losses.check_choice('gen_norm', gen_norm, NORMS)
    if labels_per_class < 0 or labelled_batch < 1:
        raise ValueError('labels_per_class must be >= 0 (0: all) and labelled_batch positive')
    check_shape(tuple(data_spec.shape))
    all_labels = labels_per_class == 0
    if all_labels:
        if data_spec.num_classes is None:
            raise ValueError(f'dataset {data_spec.name!r} has no labels for the K+1 classifier')
    else:
        images, labels = load_labelled(
            data_spec, labels_per_class, label_seed, label_split, data_dir
        )
        labelled_images, labelled_labels = jnp.asarray(images), jnp.asarray(labels)
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
        return {
            'gen': players.init_player(gen, gen_rng, z),
            'disc': players.init_player(disc, disc_rng, real),
        }

    def loss(params, batch, rng):
        rngs = jax.random.split(rng, 7)
        real = data_scaling.real_inputs(batch[key], data_spec, rngs[0], dequantize)
        if all_labels:  # every training example is labelled: the loader's batch is the batch
            labelled, targets = real, batch['label']
        else:
            pick = jax.random.randint(rngs[1], (labelled_batch,), 0, labelled_labels.shape[0])
            labelled = data_scaling.real_inputs(
                labelled_images[pick], data_spec, rngs[2], dequantize
            )
            targets = labelled_labels[pick]
        z = players.latents(rngs[3], real.shape[0], latent_dim)
        fake, gen_stats = players.apply_player(gen, params['gen'], z, True)
        (_, labelled_logits), _ = players.apply_player(
            disc, params['disc'], labelled, True, rngs[4]
        )
        (real_features, real_logits), _ = players.apply_player(
            disc, params['disc'], real, True, rngs[5]
        )
        (fake_features, fake_logits), _ = players.apply_player(
            disc, params['disc'], fake, True, rngs[6]
        )
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
        if gen_stats:
            metrics[STATE_UPDATES_KEY] = {'gen': players.merged_state(params['gen'], gen_stats)}
        return {'disc': disc_loss, 'gen': gen_objective}, metrics

    def generate(params, rng, num):
        z = players.latents(rng, num, latent_dim)
        return players.apply_player(gen, params['gen'], z, False)[0]

    def sample(params, rng, num):
        return data_scaling.to_data(generate(params, rng, num), data_spec)

    def real_view(x):
        return data_scaling.real_inputs(x, data_spec, None, dequantize=False)

    def class_logits(params, x):
        return players.apply_player(disc, params['disc'], x, False)[0][1]

    def real_logit(params, x):
        return jax.nn.logsumexp(class_logits(params, x), axis=-1)

    net = sample_quality.resolve_feature_net(data_spec, feature_net, inception_weights)
    quality = None
    if net is not None:
        quality = sample_quality.make_evaluation(
            data_spec, real_view, generate, real_logit, net, score_splits
        )

    def outputs(params, batch, rng):
        logits = class_logits(params, real_view(batch[key]))
        rows = {'correct': (jnp.argmax(logits, -1) == batch['label']).astype(jnp.float32)}
        if quality is not None:
            rows.update(quality.outputs(params, batch, rng))
        return rows

    def summarize(rows):
        wrong = float(np.sum(1.0 - rows['correct']))
        result = {'test/error': wrong / len(rows['correct']), 'test/errors': wrong}
        if quality is not None:
            result.update(quality.summarize(rows))
        return result

    return Family(init, loss, sample, evaluation=Evaluation(outputs, summarize))
