"""The GAN losses and the Improved-GAN techniques against their formulas on small inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.core.family import Context, Variables
from models.data import image_spec
from models.gan import dcgan, losses, techniques


def _log_sigmoid(x):
    return -np.log1p(np.exp(-x))


def test_discriminator_loss_and_one_sided_label_smoothing():
    real, fake = jnp.array([0.0, 2.0]), jnp.array([-1.0, 0.5])
    plain = -np.mean(_log_sigmoid(np.array([0.0, 2.0]))) - np.mean(
        np.log(1 - 1 / (1 + np.exp(-np.array([-1.0, 0.5]))))
    )
    np.testing.assert_allclose(losses.discriminator_loss(real, fake), plain, rtol=1e-6)
    # Real targets become 0.9; the fake part is untouched (one-sided).
    t = 0.9
    smoothed_real = -np.mean(
        t * _log_sigmoid(np.array([0.0, 2.0])) + (1 - t) * _log_sigmoid(-np.array([0.0, 2.0]))
    )
    fake_part = plain + np.mean(_log_sigmoid(np.array([0.0, 2.0])))
    np.testing.assert_allclose(
        losses.discriminator_loss(real, fake, 0.1), smoothed_real + fake_part, rtol=1e-6
    )


def test_generator_losses():
    fake = jnp.array([-2.0, 0.0, 3.0])
    d = 1 / (1 + np.exp(-np.asarray(fake)))
    np.testing.assert_allclose(losses.minimax_generator_loss(fake), np.mean(np.log(1 - d)), 1e-6)
    np.testing.assert_allclose(
        losses.non_saturating_generator_loss(fake), -np.mean(np.log(d)), 1e-6
    )


def test_feature_matching_is_the_squared_distance_of_means_and_only_moves_fakes():
    real = jnp.array([[1.0, 2.0], [3.0, 4.0]])  # mean [2, 3]
    fake = jnp.array([[0.0, 0.0], [2.0, 0.0]])  # mean [1, 0]
    np.testing.assert_allclose(techniques.feature_matching(real, fake), 1.0 + 9.0)
    grad_real = jax.grad(techniques.feature_matching)(real, fake)
    assert np.all(np.asarray(grad_real) == 0)


def test_minibatch_features_separate_identical_from_varied_batches():
    n, kernels, dim = 6, 4, 3
    same = jnp.ones((n, kernels, dim))
    # Identical rows: every pair is at distance 0, so each feature counts the n - 1 others.
    np.testing.assert_allclose(techniques.minibatch_features(same), n - 1.0)
    varied = jax.random.normal(jax.random.PRNGKey(0), (n, kernels, dim)) * 3
    assert float(techniques.minibatch_features(varied).max()) < 0.5
    # The same through the layer: the appended features tell the batches apart.
    layer = techniques.MinibatchDiscrimination(kernels, dim)
    x_same = jnp.tile(jax.random.normal(jax.random.PRNGKey(1), (1, 8)), (n, 1))
    x_varied = jax.random.normal(jax.random.PRNGKey(2), (n, 8)) * 5
    params = layer.init(jax.random.PRNGKey(3), x_same)
    out_same, out_varied = layer.apply(params, x_same), layer.apply(params, x_varied)
    assert out_same.shape == (n, 8 + kernels)
    np.testing.assert_allclose(out_same[:, 8:], n - 1.0, rtol=1e-6)
    assert float(out_varied[:, 8:].mean()) < 0.5 * (n - 1)
    # Hand computation of one entry: o(x_0)_b = sum_{j != 0} exp(-||M_0b - M_jb||_1).
    m = np.asarray(varied)
    expected = sum(np.exp(-np.abs(m[0, 1] - m[j, 1]).sum()) for j in range(1, n))
    np.testing.assert_allclose(techniques.minibatch_features(varied)[0, 1], expected, rtol=1e-5)


def test_historical_average_is_the_running_mean_and_penalty_its_squared_distance():
    thetas = [
        {'w': jnp.array([1.0, 2.0])},
        {'w': jnp.array([3.0, 0.0])},
        {'w': jnp.array([5.0, 4.0])},
    ]
    history = techniques.historical_average_init(thetas[0])
    for theta in thetas[1:]:
        history = techniques.historical_average_update(history, theta)
    np.testing.assert_allclose(history['mean']['w'], [3.0, 2.0])
    assert float(history['count']) == 3
    penalty = techniques.historical_average_penalty({'w': jnp.array([4.0, 0.0])}, history['mean'])
    np.testing.assert_allclose(penalty, 1.0 + 4.0)


def test_historical_averaging_adds_weight_times_distance_to_both_losses():
    spec = image_spec((8, 8, 1), 17)
    kw = dict(latent_dim=4, gen_width=4, disc_width=4, feature_net='none', dequantize=False)
    plain, averaged = dcgan.make(spec, **kw), dcgan.make(spec, historical_averaging=0.5, **kw)
    batch = {'image': jax.random.randint(jax.random.PRNGKey(0), (4, 8, 8, 1), 0, 17)}
    params, state = averaged.init(jax.random.PRNGKey(1), batch)
    # Move every historical mean by 0.1: the penalty is 0.5 * 0.01 * (number of parameters).
    shifted = {}
    for player in ('gen', 'disc'):
        history = state[player]['history']
        mean = jax.tree.map(lambda a: a + 0.1, history['mean'])
        shifted[player] = {**state[player], 'history': {**history, 'mean': mean}}
    ctx = Context(jax.random.PRNGKey(2), jnp.zeros((), jnp.int32))
    with_ha, _, new_state = averaged.loss(Variables(params, shifted), batch, ctx)
    # The plain family's state: the same batch-norm statistics, no history.
    without = {k: {kk: vv for kk, vv in v.items() if kk != 'history'} for k, v in shifted.items()}
    base, _, _ = plain.loss(Variables(params, without), batch, ctx)
    for player in ('gen', 'disc'):
        count = sum(x.size for x in jax.tree.leaves(params[player]))
        np.testing.assert_allclose(with_ha[player] - base[player], 0.5 * 0.01 * count, rtol=1e-3)
        assert float(new_state[player]['history']['count']) == 2
        # The new mean adds this step's parameters to the shifted mean: (m + 0.1 + theta) / 2.
        first = jax.tree.leaves(new_state[player]['history']['mean'])[0]
        start = jax.tree.leaves(state[player]['history']['mean'])[0]
        theta = jax.tree.leaves(params[player])[0]
        np.testing.assert_allclose(first, (start + 0.1 + theta) / 2, rtol=1e-6, atol=1e-7)


def test_virtual_batch_norm_uses_reference_and_own_statistics_only():
    r, n, c = 3, 5, 2
    x = jax.random.normal(jax.random.PRNGKey(0), (r + n, 4, 4, c)) * 2 + 1
    layer = techniques.VirtualBatchNorm(r)
    params = layer.init(jax.random.PRNGKey(1), x)
    out = np.asarray(layer.apply(params, x))
    xs = np.asarray(x, np.float64)
    ref_mean = xs[:r].mean(axis=(0, 1, 2))
    ref_sq = (xs[:r] ** 2).mean(axis=(0, 1, 2))
    i = r + 2
    mean = (r * ref_mean + xs[i].mean(axis=(0, 1))) / (r + 1)
    sq = (r * ref_sq + (xs[i] ** 2).mean(axis=(0, 1))) / (r + 1)
    np.testing.assert_allclose(out[i], (xs[i] - mean) / np.sqrt(sq - mean**2 + 1e-5), atol=1e-4)
    np.testing.assert_allclose(
        out[0], (xs[0] - ref_mean) / np.sqrt(ref_sq - ref_mean**2 + 1e-5), atol=1e-4
    )
    # Changing another (non-reference) example leaves example i unchanged: no batch coupling.
    changed = np.asarray(layer.apply(params, x.at[r].set(100.0)))
    np.testing.assert_allclose(changed[i], out[i], atol=1e-5)


def test_bad_switches_are_refused_with_the_choices():
    spec = image_spec((8, 8, 1), 17)
    with pytest.raises(ValueError, match=r"gen_loss='feature_match'.*feature_matching"):
        dcgan.make(spec, gen_loss='feature_match', feature_net='none')
    with pytest.raises(ValueError, match='label_smoothing'):
        dcgan.make(spec, label_smoothing=1.0, feature_net='none')
    with pytest.raises(ValueError, match='cannot be halved'):
        dcgan.make(image_spec((7, 7, 1), 17), feature_net='none')
