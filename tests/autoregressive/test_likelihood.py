"""Likelihoods: the discretised logistic mixture is a distribution over exactly `levels` bins per
sub-pixel, the exposed per-sub-pixel conditionals agree with log_prob, weight-norm init is
data-dependent, and bad input is refused before anything compiles."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import expit

from models.autoregressive import gated_pixelcnn, made, nade, pixelcnn, pixelcnnpp
from models.autoregressive.image_family import CategoricalHead
from models.autoregressive.layers import ApplyCtx
from models.autoregressive.logistic_mixture import LogisticMixtureHead, bin_log_prob, to_unit
from models.core.family import Context, Variables
from models.core.inputs import BadInputError
from models.data import image_spec

KEY = jax.random.PRNGKey(0)  # log_prob's evaluation key (these models ignore it)


def test_discretised_logistic_sums_to_one_over_256_bins_even_in_the_tails():
    levels = jnp.arange(256)
    means = jnp.array([-3.0, -1.0, -0.3, 0.0, 0.7, 1.0, 4.0])[:, None]
    for log_scale in (-7.0, -4.0, -1.0, 0.0, 2.0):
        logp = bin_log_prob(levels[None], means, jnp.full_like(means, log_scale), 256)
        assert np.all(np.isfinite(logp))
        np.testing.assert_allclose(np.exp(logp).sum(axis=-1), 1.0, rtol=2e-5)


def test_discretised_logistic_matches_cdf_differences():
    mean, scale, k = 0.1, 0.05, 17
    centres = np.arange(k) * 2 / (k - 1) - 1
    upper = np.where(np.arange(k) == k - 1, np.inf, centres + 1 / (k - 1))
    lower = np.where(np.arange(k) == 0, -np.inf, centres - 1 / (k - 1))
    expected = expit((upper - mean) / scale) - expit((lower - mean) / scale)
    got = np.exp(bin_log_prob(jnp.arange(k), mean, jnp.log(scale), k))
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_mixture_conditionals_sum_to_one_and_multiply_to_the_pixel_probability():
    head = LogisticMixtureHead(3, 256, 10)
    out = jax.random.normal(jax.random.PRNGKey(0), (64, head.num_outputs)) * 3
    x = jax.random.randint(jax.random.PRNGKey(1), (64, 3), 0, 256)
    cond = head.conditionals(out, x)  # [64, 3, 256]
    np.testing.assert_allclose(np.exp(cond).sum(-1), 1.0, rtol=2e-5)
    picked = jnp.take_along_axis(cond, x[..., None], -1)[..., 0].sum(-1)
    np.testing.assert_allclose(picked, head.pixel_log_prob(out, x), rtol=1e-5, atol=1e-4)


SPEC = image_spec((4, 4, 3), 6)
MODELS = {
    'pixelcnn': lambda: pixelcnn.model(SPEC, hidden=6, num_blocks=1, out_hidden=8, first_kernel=3),
    'gated': lambda: gated_pixelcnn.model(
        SPEC, features=6, num_layers=2, kernel_size=3, out_hidden=8
    ),
    'pixelcnnpp': lambda: pixelcnnpp.model(
        SPEC, filters=6, num_resnet=1, num_mix=3, dropout=0.0, num_scales=1
    ),
}


@pytest.mark.parametrize(
    'head',
    [LogisticMixtureHead(3, 256, 10), CategoricalHead(3, 256)],
    ids=['mixture', 'categorical'],
)
def test_one_channel_conditional_is_that_channel_of_all_conditionals(head):
    """The samplers draw from `conditional(out, x, c)`; the coder codes with `conditionals`."""
    out = jax.random.normal(jax.random.PRNGKey(0), (8, head.num_outputs)) * 3
    x = jax.random.randint(jax.random.PRNGKey(1), (8, 3), 0, 256)
    every = head.conditionals(out, x)
    for c in range(3):
        np.testing.assert_allclose(head.conditional(out, x, c), every[:, c], atol=1e-6)


@pytest.mark.parametrize('name', sorted(MODELS))
def test_conditionals_are_distributions_that_agree_with_log_prob(name):
    m = MODELS[name]()
    x = jax.random.randint(jax.random.PRNGKey(0), (5, *SPEC.shape), 0, 6)
    params = jax.jit(m.family.init)(jax.random.PRNGKey(1), {'image': x})
    cond = m.family.pieces.conditionals(params, {'image': x})
    assert cond.shape == (5, 4, 4, 3, 6)
    np.testing.assert_allclose(np.exp(cond).sum(-1), 1.0, rtol=1e-5)
    picked = jnp.take_along_axis(cond, x[..., None], -1)[..., 0].sum(axis=(1, 2, 3))
    np.testing.assert_allclose(picked, m.family.log_prob(params, {'image': x}, KEY), rtol=1e-5)


def test_weight_norm_init_normalises_each_layer_on_the_init_batch():
    m = pixelcnnpp.model(SPEC, filters=8, num_resnet=1, num_mix=2, dropout=0.0, num_scales=1)
    x = jax.random.randint(jax.random.PRNGKey(0), (16, *SPEC.shape), 0, 6)
    params = jax.jit(m.family.init)(jax.random.PRNGKey(1), {'image': x})['model']
    first = params['in/u']
    ctx = ApplyCtx({'in/u': first})
    x_in = jnp.concatenate([to_unit(x, 6), jnp.ones((16, 4, 4, 1))], axis=-1)
    y = ctx.conv('in/u', x_in, pixelcnnpp.down_shifted(8))
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(0, 1, 2)), 1.0, rtol=1e-3)


BINARY = image_spec((3, 3, 1), 2)


@pytest.mark.parametrize(
    'make',
    [
        lambda s: pixelcnn.make(s, hidden=4, num_blocks=1, out_hidden=4),
        lambda s: pixelcnnpp.make(s, filters=4, num_resnet=1, num_mix=1, num_scales=1),
    ],
    ids=['pixelcnn', 'pixelcnnpp'],
)
def test_bad_images_are_refused_before_compiling(make):
    family = make(SPEC)
    x = np.zeros((2, *SPEC.shape), np.int32)
    params = jax.jit(family.init)(jax.random.PRNGKey(0), {'image': x})
    with pytest.raises(BadInputError, match=r'outside the declared 6 levels'):
        family.log_prob(params, {'image': x + 6}, KEY)
    with pytest.raises(BadInputError, match=r'outside'):
        family.log_prob(params, {'image': x - 1}, KEY)
    with pytest.raises(BadInputError, match=r'per-example shape \(4, 4, 1\)'):
        family.log_prob(params, {'image': x[..., :1]}, KEY)
    with pytest.raises(BadInputError, match='integer levels'):
        family.log_prob(params, {'image': x.astype(np.float32)}, KEY)


def test_bad_binary_input_and_bad_model_arguments_are_refused():
    family = nade.make(BINARY, hidden=4)
    params = jax.jit(family.init)(
        jax.random.PRNGKey(0), {'image': np.zeros((2, 3, 3, 1), np.int32)}
    )
    with pytest.raises(BadInputError, match='outside'):
        family.log_prob(params, {'image': np.full((2, 3, 3, 1), 2)}, KEY)
    digits = image_spec((8, 8, 1), 17)
    with pytest.raises(ValueError, match='binarize_at'):
        made.make(digits)
    with pytest.raises(ValueError, match='not divisible by 4'):
        pixelcnnpp.make(image_spec((6, 6, 3), 256))
    with pytest.raises(ValueError, match='odd'):
        gated_pixelcnn.make(SPEC, kernel_size=4)
    with pytest.raises(ValueError, match='labelled'):
        gated_pixelcnn.make(SPEC, class_conditional=True)


def test_binarised_digits_threshold_and_samples_in_data_levels():
    family = nade.make(image_spec((2, 2, 1), 17), hidden=4, binarize_at=8)
    x = np.array([[[[0], [7]], [[8], [16]]]])
    params = jax.jit(family.init)(jax.random.PRNGKey(0), {'image': x})
    flipped = np.array([[[[7], [0]], [[16], [8]]]])  # same bits: 0 0 1 1
    np.testing.assert_allclose(
        family.log_prob(params, {'image': x}, KEY), family.log_prob(params, {'image': flipped}, KEY)
    )
    samples = np.asarray(family.sample(params, jax.random.PRNGKey(1), 50))
    assert set(np.unique(samples)) <= {0, 16}


def test_class_conditional_gated_pixelcnn_uses_and_checks_its_labels():
    spec = SPEC.__class__(**{**SPEC.__dict__, 'num_classes': 3})
    m = gated_pixelcnn.model(
        spec, features=6, num_layers=2, kernel_size=3, out_hidden=8, class_conditional=True
    )
    x = jax.random.randint(jax.random.PRNGKey(0), (3, *SPEC.shape), 0, 6)
    params = jax.jit(m.family.init)(
        jax.random.PRNGKey(1), {'image': x, 'label': jnp.zeros(3, jnp.int32)}
    )
    # The embeddings start at zero; give each class its own, as training would.
    params = jax.tree_util.tree_map_with_path(
        lambda path, p: (
            p + 0.3 * jnp.arange(3.0)[:, None] if 'class' in jax.tree_util.keystr(path) else p
        ),
        params,
    )
    same = m.family.log_prob(params, {'image': x, 'label': np.array([0, 0, 0])}, KEY)
    other = m.family.log_prob(params, {'image': x, 'label': np.array([0, 1, 2])}, KEY)
    assert same[0] == other[0] and np.all(np.abs(same[1:] - other[1:]) > 1e-3)
    with pytest.raises(BadInputError, match=r'labels outside \[0, 2\]'):
        m.family.log_prob(params, {'image': x, 'label': np.array([0, 1, 3])}, KEY)


@pytest.mark.parametrize(
    'make',
    [
        lambda: MODELS['pixelcnn']().family,
        lambda: nade.make(BINARY, hidden=4),
        lambda: made.make(BINARY, hidden=(6,), num_masks=1),
    ],
    ids=['pixelcnn', 'nade', 'made'],
)
def test_loss_is_the_per_dimension_nll_and_passes_the_loop_state_through(make):
    family = make()
    spec = BINARY if family.pieces.num_levels == 2 else SPEC
    x = jax.random.randint(jax.random.PRNGKey(0), (4, *spec.shape), 0, spec.num_levels)
    params = jax.jit(family.init)(KEY, {'image': x})
    variables = Variables(params, {'marker': jnp.arange(3.0)})  # some other family's loop state
    losses, metrics, state = family.loss(variables, {'image': x}, Context(KEY, jnp.int32(0)))
    dims = int(np.prod(spec.shape))
    nll = -np.mean(family.log_prob(variables, {'image': x}, KEY))
    np.testing.assert_allclose(losses['model'] * dims, nll, rtol=1e-5)
    np.testing.assert_allclose(metrics['bpd/total'], nll / dims / np.log(2), rtol=1e-5)
    assert state is variables.state
