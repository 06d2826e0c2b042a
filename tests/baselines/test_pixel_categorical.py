"""The per-pixel baseline: exact log-likelihood, data-dependent init, and a faithful sampler."""

import jax
import jax.numpy as jnp
import numpy as np

from models.baselines import pixel_categorical
from models.core.family import Variables
from models.data import image_spec

SPEC = image_spec((2, 2, 2), 5)


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
    total = jnp.exp(family.log_prob(params, {'image': every})).sum()
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
