"""Sampling: the cached generators draw exactly the naive sampler's samples for the same keys,
and every sampler draws from the distribution that log_prob defines."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.autoregressive import made, nade, pixelcnn, pixelcnnpp
from models.data import image_spec
from tests.autoregressive import cases
from tests.perturb import perturbed


@pytest.mark.parametrize('name', sorted(cases.MODELS))
def test_cached_sampling_equals_naive_sampling_sample_for_sample(name):
    """Both scans with the same draw plugged in (the samplers are `decode` + `draw`)."""
    m, params, batch = cases.case(name)
    unused = jnp.zeros((cases.NUM, len(m.family.pieces.order)), jnp.int32)
    key = jax.random.PRNGKey(0)
    a, _ = cases.decoder(name, 'naive')(params, unused, False, key)
    b, _ = cases.decoder(name, 'cached')(params, unused, False, key)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert len(np.unique(a)) > 2  # not a degenerate all-equal draw
    assert m.family.sample is m.sample_cached  # the trainer samples with the cached generator


def _empirical_vs_model(family, params, spec, num=20_000):
    """Max |frequency - probability| over every image of a tiny space."""
    levels, dims = spec.num_levels, int(np.prod(spec.shape))
    every = jnp.array(list(itertools.product(range(levels), repeat=dims))).reshape(-1, *spec.shape)
    probs = np.exp(np.asarray(family.log_prob(params, {'image': every}, jax.random.PRNGKey(0))))
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-5)  # log_prob is normalised
    samples = np.asarray(
        jax.jit(family.sample, static_argnums=2)(params, jax.random.PRNGKey(9), num)
    )
    codes = np.ravel_multi_index(samples.reshape(num, dims).T, (levels,) * dims)
    freq = np.bincount(codes, minlength=len(every)) / num
    return np.abs(freq - probs).max(), probs.max()


TINY = image_spec((1, 2, 2), 3)  # 81 images: exhaustive
TINY_BINARY = image_spec((2, 2, 1), 2)
DISTRIBUTION_CASES = {
    'pixelcnn': lambda: pixelcnn.model(TINY, hidden=6, num_blocks=1, out_hidden=8, first_kernel=3),
    'pixelcnnpp': lambda: (
        pixelcnnpp.model(TINY, filters=4, num_resnet=1, num_mix=2, dropout=0.0, num_scales=1).family
    ),
    'made': lambda: made.make(TINY_BINARY, hidden=(8,), num_masks=3, order_agnostic=True),
    'nade': lambda: nade.make(TINY_BINARY, hidden=6),
}


@pytest.mark.parametrize('name', sorted(DISTRIBUTION_CASES))
def test_samples_follow_the_model_distribution(name):
    m = DISTRIBUTION_CASES[name]()
    family = getattr(m, 'family', m)
    spec = TINY_BINARY if name in ('made', 'nade') else TINY
    x = jax.random.randint(jax.random.PRNGKey(0), (8, *spec.shape), 0, spec.num_levels)
    params = perturbed(jax.jit(family.init)(jax.random.PRNGKey(1), {'image': x}), 1.0)
    gap, largest = _empirical_vs_model(family, params, spec)
    assert largest > 0.03  # a peaked distribution, so a sampler ignoring it would be caught
    assert gap < 0.012
