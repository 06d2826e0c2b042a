"""The per-pixel baseline: exact log-likelihood, data-dependent init, a faithful sampler, and the
typed autoregressive pieces a coder codes with."""

import jax
import jax.numpy as jnp
import numpy as np

from models.autoregressive.decoding import draw
from models.baselines import pixel_categorical
from models.core.family import Context, Variables
from models.core.pieces import Autoregressive
from models.data import image_spec

SPEC = image_spec((2, 2, 2), 5)
KEY = jax.random.PRNGKey(0)  # log_prob's evaluation key (the model ignores it)


def test_log_prob_is_the_sum_of_per_dimension_log_probabilities():
    family = pixel_categorical.make(SPEC, data_init=False)
    logits = jax.random.normal(jax.random.PRNGKey(0), (2, 2, 2, 5))
    x = jax.random.randint(jax.random.PRNGKey(1), (3, 2, 2, 2), 0, 5)
    expected = np.zeros(3)
    logp = np.asarray(jax.nn.log_softmax(logits, axis=-1))
    for b in range(3):
        for idx in np.ndindex(2, 2, 2):
            expected[b] += logp[idx][int(x[b][idx])]
    got = family.log_prob(Variables({'model': {'logits': logits}}), {'image': x})
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_probabilities_sum_to_one_over_all_images():
    spec = image_spec((1, 1, 2), 3)
    family = pixel_categorical.make(spec, data_init=False)
    params = Variables(
        {'model': {'logits': jax.random.normal(jax.random.PRNGKey(2), (1, 1, 2, 3))}}
    )
    every = jnp.array([[[[a, b]]] for a in range(3) for b in range(3)])  # all 9 images
    total = jnp.exp(family.log_prob(params, {'image': every}, KEY)).sum()
    np.testing.assert_allclose(total, 1.0, rtol=1e-5)


def test_data_init_is_the_smoothed_histogram():
    family = pixel_categorical.make(SPEC, init_smoothing=1.0)
    x = jnp.zeros((4, 2, 2, 2), jnp.int32).at[:2].set(3)
    logits = family.init(None, {'image': x})['model']['logits']
    np.testing.assert_allclose(
        jax.nn.softmax(logits[0, 0, 0]), np.array([3, 1, 1, 3, 1]) / 9.0, rtol=1e-6
    )
    tied = pixel_categorical.make(SPEC, tie_positions=True).init(None, {'image': x})
    assert tied['model']['logits'].shape == (2, 5)


def test_sampler_matches_the_model_probabilities():
    family = pixel_categorical.make(SPEC, data_init=False)
    logits = jax.random.normal(jax.random.PRNGKey(3), (2, 2, 2, 5)) * 2
    samples = np.asarray(
        family.sample(Variables({'model': {'logits': logits}}), jax.random.PRNGKey(4), 20000)
    )
    assert samples.shape == (20000, 2, 2, 2) and samples.min() >= 0 and samples.max() <= 4
    freq = np.stack([(samples == k).mean(axis=0) for k in range(5)], axis=-1)
    np.testing.assert_allclose(freq, jax.nn.softmax(logits, axis=-1), atol=0.015)


def test_loss_is_the_per_dimension_nll_and_passes_the_loop_state_through():
    family = pixel_categorical.make(SPEC, data_init=False)
    logits = jax.random.normal(jax.random.PRNGKey(5), (2, 2, 2, 5))
    variables = Variables({'model': {'logits': logits}}, {'marker': jnp.ones(2)})
    x = jax.random.randint(jax.random.PRNGKey(6), (3, 2, 2, 2), 0, 5)
    losses, metrics, state = family.loss(variables, {'image': x}, Context(KEY, jnp.int32(0)))
    nll = -np.mean(family.log_prob(variables, {'image': x}, KEY))
    np.testing.assert_allclose(losses['model'] * 8, nll, rtol=1e-6)
    np.testing.assert_allclose(metrics['bpd/total'], nll / 8 / np.log(2), rtol=1e-6)
    assert state is variables.state


def test_decode_reproduces_the_data_with_exactly_the_conditionals():
    family = pixel_categorical.make(SPEC, data_init=False)
    params = {'model': {'logits': jax.random.normal(jax.random.PRNGKey(7), (2, 2, 2, 5))}}
    pieces = family.pieces
    assert isinstance(pieces, Autoregressive) and pieces.num_levels == 5
    x = jax.random.randint(jax.random.PRNGKey(8), (4, 2, 2, 2), 0, 5)
    data = x.reshape(4, -1)

    def forced(seen, log_probs, index):
        return data[:, index], seen.at[:, index].set(log_probs)

    decoded, seen = jax.jit(lambda p: pieces.decode(p, forced, jnp.zeros((4, 8, 5)), 4))(params)
    np.testing.assert_array_equal(decoded, x)
    full = pieces.conditionals(params, {'image': x}).reshape(4, 8, 5)
    np.testing.assert_array_equal(seen, full)
    picked = jnp.take_along_axis(full, data[..., None], -1).sum(axis=(1, 2))
    np.testing.assert_allclose(picked, family.log_prob(params, {'image': x}, KEY), rtol=1e-6)
    # Sampling through the scan draws valid levels.
    samples, _ = pieces.decode(params, draw, jax.random.PRNGKey(9), 3)
    assert samples.shape == (3, 2, 2, 2) and 0 <= samples.min() and samples.max() <= 4
