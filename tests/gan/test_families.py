"""The GAN families through the shared step: K+1 and InfoGAN losses by hand, state updates,
and a 2-D mixture whose eight modes a GAN with the Improved-GAN techniques must all cover."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from models.core.step import make_init, make_train_step
from models.data import DatasetSpec, open_split, synthetic2d
from models.gan import data_scaling, dcgan, infogan, semi_supervised


def test_k_plus_one_losses_match_the_formulas():
    logits = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -3.0]])
    fake = np.array([[-2.0, -1.0, 0.0], [3.0, 0.0, 0.0]])
    labels = np.array([2, 1])
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    supervised = -np.mean(np.log(p[np.arange(2), labels]))
    z_real, z_fake = np.exp(logits).sum(-1), np.exp(fake).sum(-1)
    d_real, d_fake = z_real / (z_real + 1), z_fake / (z_fake + 1)  # the K+1-th logit is 0
    unsupervised = -np.mean(np.log(d_real)) - np.mean(np.log(1 - d_fake))
    np.testing.assert_allclose(
        semi_supervised.supervised_loss(jnp.asarray(logits), jnp.asarray(labels)), supervised, 1e-6
    )
    np.testing.assert_allclose(
        semi_supervised.unsupervised_loss(jnp.asarray(logits), jnp.asarray(fake)),
        unsupervised,
        1e-6,
    )


def test_labelled_subset_has_exactly_n_per_class_and_depends_only_on_the_seed():
    labels = np.repeat(np.arange(3), [5, 7, 9])
    chosen = semi_supervised.labelled_subset(labels, 4, 3, seed=1)
    assert np.bincount(labels[chosen]).tolist() == [4, 4, 4]
    np.testing.assert_array_equal(chosen, semi_supervised.labelled_subset(labels, 4, 3, seed=1))
    assert not np.array_equal(chosen, semi_supervised.labelled_subset(labels, 4, 3, seed=2))
    with pytest.raises(ValueError, match='fewer than 6'):
        semi_supervised.labelled_subset(labels, 6, 3, seed=0)


def test_semi_supervised_family_holds_the_labelled_digits_and_scores_test_error():
    _, spec = open_split('digits8x8', 'train', None)
    family = semi_supervised.make(spec, labels_per_class=3, gen_width=4, disc_width=4)
    rows = {'correct': np.array([1.0, 0.0, 1.0, 1.0])}
    assert family.evaluation.summarize(rows) == {'test/error': 0.25, 'test/errors': 1.0}
    images, labels = semi_supervised.load_labelled(spec, 3, 0, 'train', '')
    assert images.shape == (30, 8, 8, 1) and np.bincount(labels).tolist() == [3] * 10
    no_labels = DatasetSpec('eight_gaussians', (2,), 'x', None, None, {})
    with pytest.raises(ValueError, match='no labels'):
        semi_supervised.make(no_labels)


def test_information_loss_is_cross_entropy_plus_half_squared_error():
    code_logits = jnp.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    code = jnp.array([0, 2])
    cont, mean = jnp.array([[0.5, -0.5], [1.0, 0.0]]), jnp.array([[0.0, 0.0], [0.0, 1.0]])
    p = np.exp(np.asarray(code_logits))
    p /= p.sum(-1, keepdims=True)
    ce = -np.mean(np.log([p[0, 0], p[1, 2]]))
    gaussian = np.mean([0.5 * 0.5, 0.5 * 2.0])
    total, cross_entropy = infogan.information_loss(code_logits, code, mean, cont)
    np.testing.assert_allclose(cross_entropy, ce, rtol=1e-6)
    np.testing.assert_allclose(total, ce + gaussian, rtol=1e-6)


def test_infogan_code_accuracy_uses_the_best_matching():
    spec = DatasetSpec('digits8x8', (8, 8, 1), 'image', 17, 10, {})
    family = infogan.make(spec, noise_dim=4, gen_width=4, gen_hidden=8, disc_width=4, q_hidden=8)
    labels = np.repeat(np.arange(10), 3)
    result = family.evaluation.summarize({'code': (labels + 3) % 10, 'label': labels})
    assert result['test/code_accuracy'] == 1.0


def _step(family, batch, opts):
    state = jax.jit(make_init(family, opts, {}))(jax.random.PRNGKey(0), batch)
    return state, jax.jit(make_train_step(family, opts, {}), donate_argnums=0)


def test_dcgan_step_updates_both_players_and_the_batch_norm_statistics():
    # 16x16: two discriminator layers, so D has a batch-normalised one (never the input layer).
    spec = DatasetSpec('toy', (16, 16, 1), 'image', 17, None, {})
    family = dcgan.make(spec, latent_dim=4, gen_width=4, disc_width=4, feature_net='none')
    batch = {'image': jax.random.randint(jax.random.PRNGKey(1), (8, 16, 16, 1), 0, 17)}
    opts = {'disc': optax.adam(1e-2), 'gen': optax.adam(1e-2)}
    state, step = _step(family, batch, opts)
    before = jax.device_get(state['params'])
    state, metrics = step(state, batch)
    after = jax.device_get(state['params'])
    for player in ('gen', 'disc'):
        assert np.isfinite(metrics[f'{player}/loss'])
        moved = [
            np.abs(a - b).max()
            for a, b in zip(
                jax.tree.leaves(before[player]['net']),
                jax.tree.leaves(after[player]['net']),
                strict=True,
            )
        ]
        assert min(moved) > 0  # every weight got a gradient
        stats_before = jax.tree.leaves(before[player]['state']['batch_stats'])
        stats_after = jax.tree.leaves(after[player]['state']['batch_stats'])
        assert any(np.abs(a - b).max() > 0 for a, b in zip(stats_before, stats_after, strict=True))
    samples = np.asarray(family.sample(state['params'], jax.random.PRNGKey(2), 5))
    assert samples.shape == (5, 16, 16, 1) and samples.min() >= 0 and samples.max() <= 16


def test_gan_with_the_techniques_covers_all_eight_modes():
    """Minibatch discrimination, one-sided label smoothing, historical averaging and virtual
    batch norm together on eight Gaussians: every mode gets samples, most samples are near one."""
    spec = DatasetSpec('eight_gaussians', (2,), 'x', None, None, {})
    family = dcgan.make(
        spec,
        latent_dim=2,
        gen_width=64,
        disc_width=64,
        gen_norm='virtual',
        vbn_reference_size=32,
        disc_norm='none',
        minibatch_kernels=5,
        minibatch_dim=3,
        label_smoothing=0.1,
        historical_averaging=1e-5,
    )
    data = synthetic2d.split_arrays('eight_gaussians', 'train')['x']
    rng = np.random.default_rng(0)
    opts = {'disc': optax.adam(1e-3, b1=0.5), 'gen': optax.adam(1e-3, b1=0.5)}
    state, step = _step(family, {'x': jnp.asarray(data[:128])}, opts)
    for _ in range(400):
        state, _ = step(state, {'x': jnp.asarray(data[rng.integers(0, len(data), 128)])})
    samples = np.asarray(family.sample(state['params'], jax.random.PRNGKey(1), 2000))
    angles = np.arange(8) * np.pi / 4
    centres = synthetic2d.EIGHT_GAUSSIANS_RADIUS * np.stack([np.cos(angles), np.sin(angles)], 1)
    distance = np.linalg.norm(samples[:, None] - centres[None], axis=-1)  # [N, 8]
    near = distance.min(axis=1) < 3 * synthetic2d.EIGHT_GAUSSIANS_STD
    counts = np.bincount(distance.argmin(axis=1)[near], minlength=8)
    assert near.mean() > 0.7, near.mean()
    assert counts.min() > 0.03 * len(samples), counts  # each mode: at least 3% (uniform: 12.5%)


def test_centre_crop_resize_takes_the_middle_square():
    x = jnp.arange(2 * 6 * 4 * 1, dtype=jnp.float32).reshape(2, 6, 4, 1)
    same = data_scaling.center_crop_resize(x, 4, 4)
    np.testing.assert_array_equal(same, x[:, 1:5])
    small = data_scaling.center_crop_resize(x, 4, 2)
    assert small.shape == (2, 2, 2, 1)
    # Resizing averages the crop (here a linear ramp, so the mean is kept), not the full image.
    np.testing.assert_allclose(small.mean(), x[:, 1:5].mean(), rtol=1e-5)
    with pytest.raises(ValueError, match='does not fit'):
        data_scaling.center_crop_resize(x, 5, 2)
    spec = DatasetSpec('faces', (12, 10, 3), 'image', 256, None, {})
    family = dcgan.make(
        spec,
        image_size=8,
        center_crop=8,
        gen_width=4,
        disc_width=4,
        latent_dim=4,
        feature_net='none',
    )
    params = family.init(jax.random.PRNGKey(0), {'image': jnp.zeros((2, 12, 10, 3), jnp.int32)})
    assert family.sample(params, jax.random.PRNGKey(1), 3).shape == (3, 8, 8, 3)
