"""The flow families as wholes: invertibility of every full model, the likelihood accounting in
nats of discrete data, clear refusals of non-invertible configurations and bad inputs, and
temperature sampling."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.core.family import Context, Variables
from models.data import DatasetSpec, image_spec
from models.flows import flowpp, nice, realnvp
from models.flows.bijector import Ctx
from tests.perturb import perturbed

DIGITS = image_spec((4, 4, 1), 17)
TWO_D = DatasetSpec('two_moons', (2,), 'x', None, None, {})
TINY_RNVP = {'scales': 2, 'features': 8, 'blocks': 1}
TINY_FPP = {
    'stages': (('checkerboard', 1), ('squeeze',), ('channel', 1)),
    'features': 8,
    'blocks': 1,
    'heads': 2,
    'components': 3,
    'dropout': 0.0,
    'dequant_steps': 1,
    'dequant_features': 4,
    'dequant_blocks': 1,
    'dequant_components': 2,
}

FULL_MODELS = {
    'realnvp_image_batchnorm': (realnvp.build, DIGITS, TINY_RNVP),
    'realnvp_2d': (realnvp.build, TWO_D, {'couplings': 4, 'features': 16, 'blocks': 1}),
    'nice_image': (nice.build, DIGITS, {'couplings': 4, 'features': 16, 'layers': 2}),
    'flowpp_image': (lambda s, **kw: flowpp.build(s, **kw)[0], DIGITS, TINY_FPP),
    'flowpp_dequantiser': (lambda s, **kw: flowpp.build(s, **kw)[1].flow, DIGITS, TINY_FPP),
    'flowpp_2d': (
        lambda s, **kw: flowpp.build(s, **kw)[0],
        TWO_D,
        {'couplings': 3, 'features': 16, 'blocks': 1, 'components': 4},
    ),
}


def _perturb(params, scale, seed=5):
    return perturbed(params, scale, seed)


def _perturb_params(variables, scale, seed=5):
    """Trained parameters only: the loop state (a 1x1 convolution's permutation) stays exact."""
    return Variables(perturbed(variables.params, scale, seed), variables.state)


@pytest.mark.parametrize('name', list(FULL_MODELS))
def test_full_model_inverse_of_forward_is_identity(name):
    build, spec, kw = FULL_MODELS[name]
    flow = build(spec, **kw)
    shape = (16, *spec.shape)
    if spec.num_levels is None or name == 'flowpp_dequantiser':
        x = jax.random.normal(jax.random.PRNGKey(0), shape)
    else:
        x = jax.random.uniform(jax.random.PRNGKey(0), shape, minval=0.001, maxval=0.999)
    cond = None
    if name == 'flowpp_dequantiser':
        cond = jax.random.normal(jax.random.PRNGKey(3), (*shape[:-1], 4))
    ctx = Ctx(cond=cond)

    @jax.jit
    def round_trip(params, state, x):  # one compile for both directions
        z, logdet, _ = flow.forward(params, state, x, ctx)
        return z, logdet, flow.inverse(params, state, z, ctx)

    params, state, _ = jax.jit(lambda r, x: flow.init(r, x, ctx))(jax.random.PRNGKey(1), x)
    # Small: large random mixture scales make a nearly flat (ill-conditioned) CDF.
    params = _perturb(params, 0.02)
    z, logdet, back = round_trip(params, state, x)
    assert np.all(np.isfinite(z)) and np.all(np.isfinite(logdet))
    if z.shape == x.shape:
        assert not np.allclose(z, x)
    np.testing.assert_allclose(back, x, atol=1e-5, rtol=1e-5)


TINY_SPACE = image_spec((2, 2, 1), 3)
SPACE_MODELS = {
    'realnvp_uniform_dequant': lambda: realnvp.make(
        TINY_SPACE, scales=1, features=8, blocks=1, norm='actnorm', logit_alpha=1e-6
    ),
    'flowpp_variational_dequant': lambda: flowpp.make(
        TINY_SPACE, **{**TINY_FPP, 'stages': (('checkerboard', 2),), 'logit_alpha': 1e-6}
    ),
}


@pytest.mark.parametrize('name', list(SPACE_MODELS))
def test_discrete_probabilities_sum_to_one(name):
    """Over every image of a 2x2 space of 3 levels (81 images): E_u[exp(estimate)] is exactly
    P(x) (importance sampling with the dequantiser as proposal), so its sum is 1 up to Monte Carlo
    error; exp(E_u[estimate]) is a lower bound (Jensen), so its sum is at most 1. (With the
    papers' logit alpha = 0.05, the density's mass outside logit(alpha + (1 - 2 alpha) [0, 1]) is
    lost and the sum is below 1; alpha = 1e-6 keeps nearly all of it.) Forgetting
    -D log K, the logit's log-determinant or Flow++'s -log q(u|x) would miss by factors."""
    family = SPACE_MODELS[name]()
    grid = np.stack(np.meshgrid(*[np.arange(3)] * 4, indexing='ij'), -1)
    every = {'image': jnp.array(grid.reshape(81, 2, 2, 1))}
    variables = jax.jit(family.init)(jax.random.PRNGKey(0), every)
    variables = _perturb_params(variables, 0.02)
    keys = jax.random.split(jax.random.PRNGKey(1), 512)
    estimates = jax.jit(jax.vmap(family.log_prob, in_axes=(None, None, 0)))(variables, every, keys)
    importance = float(jnp.exp(estimates).mean(axis=0).sum())
    jensen = float(jnp.exp(estimates.mean(axis=0)).sum())
    # q(u|x) at init is far from the model's posterior over a bin, so the importance weights are
    # heavy-tailed and 512 samples underestimate a little; a dropped term would be off by 2x.
    tolerance = 0.15 if 'variational' in name else 0.05
    assert abs(importance - 1.0) < tolerance, importance
    assert 0.2 < jensen <= 1.0 + 1e-3, jensen


def test_non_invertible_configurations_are_refused_at_make():
    with pytest.raises(ValueError, match=r'scales=4 squeezes 3 times.*\(8, 8\).*fewer scales'):
        realnvp.make(image_spec((8, 8, 1), 17), scales=4)
    with pytest.raises(ValueError, match=r'channel coupling.*even number.*\(32, 32, 3\)'):
        flowpp.make(image_spec((32, 32, 3), 256), stages=(('channel', 2),), **_small_fpp())
    with pytest.raises(ValueError, match=r'divisible by 2 \*\* 2'):
        realnvp.make(image_spec((6, 6, 3), 256), scales=3)
    with pytest.raises(ValueError, match=r'Squeeze needs .* even H and W, got \(5, 6, 3\)'):
        flowpp.make(image_spec((5, 6, 3), 256), **TINY_FPP)
    with pytest.raises(ValueError, match=r'features \(10\) must be divisible by heads \(4\)'):
        flowpp.make(DIGITS, features=10, heads=4)
    with pytest.raises(ValueError, match=r"stage \('squash',\)"):
        flowpp.make(DIGITS, stages=(('squash',),))


def _small_fpp():
    return {k: v for k, v in TINY_FPP.items() if k != 'stages'}


def test_bad_inputs_name_the_expected_shape_and_range():
    """The check is shared by every flow family (density.py); NICE's MLPs make it cheap."""
    family = nice.make(DIGITS, couplings=2, features=8, layers=1)
    x = jnp.zeros((2, 4, 4, 1), jnp.int32)
    variables = family.init(jax.random.PRNGKey(0), {'image': x})
    rng = jax.random.PRNGKey(1)
    with pytest.raises(ValueError, match=r'shape \(4, 4, 3\), expected \(4, 4, 1\)'):
        family.log_prob(variables, {'image': jnp.zeros((2, 4, 4, 3), jnp.int32)}, rng)
    with pytest.raises(ValueError, match=r'\[0, 17\], outside the declared 17 levels \[0, 16\]'):
        family.log_prob(variables, {'image': x.at[0, 0, 0, 0].set(17)}, rng)
    with pytest.raises(ValueError, match=r'shape \(4, 4, 3\), expected \(4, 4, 1\)'):
        family.loss(variables, {'image': jnp.zeros((2, 4, 4, 3), jnp.int32)}, Context(rng, 0))


def test_sampling_with_temperature():
    family = realnvp.make(TWO_D, couplings=2, features=8, blocks=1, norm='none')
    data = jax.random.normal(jax.random.PRNGKey(0), (64, 2))
    variables = family.init(jax.random.PRNGKey(1), {'x': data})  # identity couplings at init
    cold = functools.partial(realnvp.make, TWO_D, couplings=2, features=8, blocks=1, norm='none')
    for t in (0.5, 1.0):
        samples = cold(temperature=t).sample(variables, jax.random.PRNGKey(2), 20000)
        np.testing.assert_allclose(np.std(samples, axis=0), t, rtol=0.05)
    # Images: levels in range and integer (the smoke runs also write sample grids).
    images = nice.make(DIGITS, couplings=2, features=8, layers=1)
    x = jax.random.randint(jax.random.PRNGKey(3), (16, 4, 4, 1), 0, 17)
    v = images.init(jax.random.PRNGKey(4), {'image': x})
    s = np.asarray(images.sample(v, jax.random.PRNGKey(5), 6))
    assert s.shape == (6, 4, 4, 1) and s.dtype == np.int32 and s.min() >= 0 and s.max() <= 16


def test_loop_state_layout_and_updates():
    """Batch-norm running statistics live in the loop state, not the params: the loss returns
    them moved (training mode) in init's layout, evaluation leaves them; a flow without state
    keeps {} and gets it back."""
    x = jax.random.randint(jax.random.PRNGKey(0), (16, 4, 4, 1), 0, 17)
    family = realnvp.make(DIGITS, **TINY_RNVP)  # batch norm
    variables = family.init(jax.random.PRNGKey(1), {'image': x})
    assert isinstance(variables, Variables) and set(variables.params) == {'model'}
    assert set(variables.state) == {'flow', 'dequant'}
    assert 'state' not in variables.params['model']
    shifted = {'image': jnp.clip(x + 4, 0, 16)}
    _, metrics, new_state = family.loss(variables, shifted, Context(jax.random.PRNGKey(2), 0))
    assert jax.tree.structure(new_state) == jax.tree.structure(variables.state)
    assert 'state_updates' not in metrics and np.isfinite(metrics['bpd/total'])
    moved = [
        not np.allclose(a, b)
        for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(variables.state), strict=True)
    ]
    assert any(moved)
    # Evaluation uses the running statistics: one example's log p does not depend on the rest of
    # its batch (same shape and key, so the same noise for row 0).
    first = family.log_prob(variables, {'image': x}, jax.random.PRNGKey(3))
    others = family.log_prob(variables, {'image': x.at[1:].set(16 - x[1:])}, jax.random.PRNGKey(3))
    np.testing.assert_allclose(first[0], others[0], rtol=1e-6)
    assert not np.allclose(first[1:], others[1:])

    stateless = nice.make(DIGITS, couplings=2, features=8, layers=1)
    variables = stateless.init(jax.random.PRNGKey(1), {'image': x})
    assert variables.state == {}
    _, _, new_state = stateless.loss(variables, {'image': x}, Context(jax.random.PRNGKey(2), 0))
    assert new_state == {}


def test_points_are_rendered_by_the_family(tmp_path):
    """2-D flows write a histogram of their samples; image flows leave it to the image grid."""
    from PIL import Image

    family = realnvp.make(TWO_D, couplings=2, features=8, blocks=1, norm='none')
    assert nice.make(DIGITS, couplings=2, features=8, layers=1).render is None
    points = np.concatenate([np.zeros((100, 2)), np.full((50, 2), 2.0)])
    path = str(tmp_path / 'samples.png')
    family.render(path, points)
    picture = np.asarray(Image.open(path))
    assert picture.shape == (256, 256) and picture.max() == 255
    assert np.count_nonzero(picture) == 2  # one bin per cluster
