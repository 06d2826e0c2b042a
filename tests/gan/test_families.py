"""The GAN families through the shared step: K+1 and InfoGAN losses by hand, state updates,
and a 2-D mixture whose eight modes a GAN with the Improved-GAN techniques must all cover."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from models.core.family import Context, Variables
from models.core.step import eval_variables, make_init, make_train_step
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


def test_semi_supervised_family_reads_labelled_rows_and_scores_test_error():
    _, spec = open_split('digits8x8', 'train', None)
    family = semi_supervised.make(
        spec, aux_specs={'labelled': spec}, gen_width=4, disc_width=4, latent_dim=4
    )
    rows = {'correct': np.array([1.0, 0.0, 1.0, 1.0])}
    assert family.evaluation.summarize(rows) == {'test/error': 0.25, 'test/errors': 1.0}
    no_labels = DatasetSpec('eight_gaussians', (2,), 'x', None, None, {})
    with pytest.raises(ValueError, match='no labels'):
        semi_supervised.make(no_labels)
    with pytest.raises(ValueError, match=r"reads only 'labelled'"):
        semi_supervised.make(spec, aux_specs={'demos': spec})
    other = DatasetSpec('mnist', (28, 28, 1), 'image', 256, 10, {})
    with pytest.raises(ValueError, match=r'aux\.labelled.*needs them equal'):
        semi_supervised.make(spec, aux_specs={'labelled': other})


def _supervised_part(family, variables, batch, ctx):
    """The loss's supervised term, read from its metrics."""
    return float(family.loss(variables, batch, ctx)[1]['disc/supervised'])


def test_semi_supervised_loss_trains_on_the_aux_rows_or_else_the_main_labels():
    """With a 'labelled' source the supervised term is the cross-entropy of batch['aux'] rows;
    without one, of the main batch's labels. Dropout off and no dequantisation, so both are
    the classifier's own cross-entropy on exactly those rows."""
    spec = DatasetSpec('digits8x8', (8, 8, 1), 'image', 17, 10, {})
    kw = dict(gen_width=4, disc_width=4, latent_dim=4, dequantize=False, feature_net='none')
    with_aux = semi_supervised.make(spec, aux_specs={'labelled': spec}, **kw)
    main_only = semi_supervised.make(spec, **kw)
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    main = {
        'image': jax.random.randint(keys[0], (6, 8, 8, 1), 0, 17),
        'label': jax.random.randint(keys[1], (6,), 0, 10),
    }
    aux = {
        'image': jax.random.randint(keys[2], (4, 8, 8, 1), 0, 17),
        'label': jax.random.randint(keys[3], (4,), 0, 10),
    }
    variables = with_aux.init(jax.random.PRNGKey(1), main)
    assert variables.state['disc'] == {}  # no batch norm in this discriminator
    ctx = Context(jax.random.PRNGKey(2), jnp.zeros((), jnp.int32))
    got_aux = _supervised_part(with_aux, variables, {**main, 'aux': {'labelled': aux}}, ctx)
    # The same number as a family trained on the aux rows as its main batch ...
    np.testing.assert_allclose(got_aux, _supervised_part(main_only, variables, aux, ctx), 1e-6)
    # ... and the main batch's labels play no part in it.
    relabelled = {**main, 'label': (main['label'] + 1) % 10, 'aux': {'labelled': aux}}
    np.testing.assert_allclose(got_aux, _supervised_part(with_aux, variables, relabelled, ctx))
    got_main = _supervised_part(main_only, variables, main, ctx)
    assert abs(got_aux - got_main) > 1e-4


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


def test_losses_return_both_players_new_state_in_the_init_layout():
    """The loss hands back the whole loop state: batch-norm statistics of every player that has
    them moved, the VBN reference latents untouched, and nothing trainable in it."""
    digits = DatasetSpec('digits8x8', (8, 8, 1), 'image', 17, 10, {})
    info = infogan.make(digits, noise_dim=4, gen_width=4, gen_hidden=8, disc_width=4, q_hidden=8)
    # 16x16: two discriminator layers, so D has a batch-normalised one (never the input layer).
    toy = DatasetSpec('toy', (16, 16, 1), 'image', 17, None, {})
    vbn = dcgan.make(
        toy,
        latent_dim=4,
        gen_width=4,
        disc_width=4,
        gen_norm='virtual',
        vbn_reference_size=5,
        historical_averaging=0.1,
        feature_net='none',
    )
    cases = (
        (info, (8, 8, 1), {'gen': {'batch_stats'}, 'disc': {'batch_stats'}}),
        (vbn, (16, 16, 1), {'gen': {'reference_z', 'history'}, 'disc': {'batch_stats', 'history'}}),
    )
    ctx = Context(jax.random.PRNGKey(1), jnp.zeros((), jnp.int32))
    for family, shape, keys in cases:
        batch = {
            'image': jax.random.randint(jax.random.PRNGKey(0), (6, *shape), 0, 17),
            'label': jnp.arange(6) % 10,
        }
        variables = family.init(jax.random.PRNGKey(2), batch)
        assert isinstance(variables, Variables)
        assert {p: set(v) for p, v in variables.state.items()} == keys
        _, _, new_state = family.loss(variables, batch, ctx)
        assert jax.tree.structure(new_state) == jax.tree.structure(variables.state)
        for player, names in keys.items():
            if 'batch_stats' in names:
                old = jax.tree.leaves(variables.state[player]['batch_stats'])
                new = jax.tree.leaves(new_state[player]['batch_stats'])
                assert any(np.abs(a - b).max() > 0 for a, b in zip(old, new, strict=True))
        if family is vbn:
            reference = variables.state['gen']['reference_z']
            assert reference.shape == (5, 4)
            np.testing.assert_array_equal(new_state['gen']['reference_z'], reference)


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
    before = jax.device_get({'params': state['params'], 'state': state['state']})
    state, metrics = step(state, batch)
    after = jax.device_get({'params': state['params'], 'state': state['state']})
    for player in ('gen', 'disc'):
        assert np.isfinite(metrics[f'{player}/loss'])
        moved = [
            np.abs(a - b).max()
            for a, b in zip(
                jax.tree.leaves(before['params'][player]),
                jax.tree.leaves(after['params'][player]),
                strict=True,
            )
        ]
        assert min(moved) > 0  # every weight got a gradient
        stats_before = jax.tree.leaves(before['state'][player]['batch_stats'])
        stats_after = jax.tree.leaves(after['state'][player]['batch_stats'])
        assert any(np.abs(a - b).max() > 0 for a, b in zip(stats_before, stats_after, strict=True))
        # Trainable params hold weights only; the statistics live in the loop state.
        assert 'batch_stats' not in before['params'][player]
    samples = np.asarray(family.sample(eval_variables(state, False), jax.random.PRNGKey(2), 5))
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
    variables = eval_variables(state, False)
    samples = np.asarray(family.sample(variables, jax.random.PRNGKey(1), 2000))
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
    variables = family.init(jax.random.PRNGKey(0), {'image': jnp.zeros((2, 12, 10, 3), jnp.int32)})
    assert family.sample(variables, jax.random.PRNGKey(1), 3).shape == (3, 8, 8, 3)
