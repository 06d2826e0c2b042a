"""Every bijector, through the one interface: inverse(forward(x)) == x and log|det J| equal to
the log-determinant of the Jacobian that `jax.jacfwd` computes, on small random inputs.

Parameters are perturbed away from their initial values first: couplings start as the identity
(zero-initialised last layer), where a wrong log-determinant would still read 0.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.flows import nets
from models.flows.actnorm import ActNorm
from models.flows.batchnorm import BatchNorm
from models.flows.bijector import Chain, Ctx
from models.flows.conv1x1 import Conv1x1
from models.flows.coupling import Additive, Affine, Coupling, MixtureCDF
from models.flows.logit import Logit
from models.flows.squeeze import FactorOut, Flatten, Squeeze, Unflatten, Unsqueeze
from tests.perturb import perturbed

RESNET = functools.partial(nets.ResNet, features=8, blocks=1)
ATTN = functools.partial(nets.GatedAttnNet, features=8, blocks=1, heads=2, dropout=0.0)
MLP = functools.partial(nets.MLP, features=16, layers=2)

CASES = {
    'logit': (Logit(0.05), (2, 2, 2), 'unit'),
    'actnorm': (ActNorm(), (2, 2, 3), 'normal'),
    'batchnorm': (BatchNorm(), (2, 2, 3), 'normal'),
    'conv1x1': (Conv1x1(), (2, 2, 3), 'normal'),
    'squeeze': (Squeeze(), (4, 4, 1), 'normal'),
    'unsqueeze': (Unsqueeze(), (2, 2, 4), 'normal'),
    'flatten': (Flatten((2, 3, 2)), (2, 3, 2), 'normal'),
    'unflatten': (Unflatten((2, 3, 2)), (12,), 'normal'),
    'additive_alternate': (Coupling('alternate', 1, Additive(), MLP), (4,), 'normal'),
    'affine_checkerboard': (Coupling('checkerboard', 0, Affine(), RESNET), (4, 4, 1), 'normal'),
    'affine_checkerboard_odd': (Coupling('checkerboard', 1, Affine(), RESNET), (2, 4, 3), 'normal'),
    'affine_channel': (Coupling('channel', 0, Affine(), RESNET), (2, 2, 4), 'normal'),
    'affine_channel_odd': (Coupling('channel', 1, Affine(), RESNET), (2, 2, 4), 'normal'),
    'mixture_checkerboard': (
        Coupling('checkerboard', 0, MixtureCDF(4), ATTN),
        (4, 4, 1),
        'normal',
    ),
    'mixture_channel': (Coupling('channel', 1, MixtureCDF(4), ATTN), (2, 2, 4), 'normal'),
    'mixture_alternate': (Coupling('alternate', 0, MixtureCDF(3), MLP), (2,), 'normal'),
    'factor_out': (
        FactorOut(Chain([Squeeze(), Coupling('channel', 0, Affine(), RESNET), Unsqueeze()])),
        (4, 4, 2),
        'normal',
    ),
    'chain': (
        Chain([ActNorm(), Conv1x1(), Coupling('checkerboard', 1, Affine(), RESNET)]),
        (2, 2, 2),
        'normal',
    ),
}


def _inputs(kind, shape, seed=0, batch=5):
    key = jax.random.PRNGKey(seed)
    if kind == 'unit':
        return jax.random.uniform(key, (batch, *shape), minval=0.01, maxval=0.99)
    return 1.5 * jax.random.normal(key, (batch, *shape))


def _perturbed(bijector, shape, kind, scale=0.3):
    x = _inputs(kind, shape)
    params, state, _ = bijector.init(jax.random.PRNGKey(1), x)
    return perturbed(params, scale, seed=2), state, _inputs(kind, shape, seed=3)


@pytest.mark.parametrize('name', list(CASES))
def test_invertible_and_log_det_matches_jacobian(name):
    bijector, shape, kind = CASES[name]
    assert bijector.check(shape) == bijector.output_shape(shape)
    # Milder for the mixture CDF: large random scales make it nearly flat, and inverting a flat
    # map amplifies float32 rounding of y beyond 1e-5 whatever the bisection does.
    params, state, x = _perturbed(bijector, shape, kind, 0.1 if 'mixture' in name else 0.3)

    def flat(xi):
        out, _, _ = bijector.forward(params, state, xi.reshape(1, *shape))
        return out.reshape(-1)

    @jax.jit
    def everything(x):  # one compile per case: both directions and three Jacobians
        y, logdet, _ = bijector.forward(params, state, x)
        jacobians = jax.vmap(jax.jacfwd(flat))(x[:3].reshape(3, -1))  # [3, D, D]
        return y, logdet, bijector.inverse(params, state, y), jacobians

    y, logdet, back, jacobians = everything(x)
    assert logdet.shape == (x.shape[0],)
    if y.shape == x.shape:
        assert not np.allclose(y, x), 'the perturbed layer must not be the identity'
    np.testing.assert_allclose(back, x, atol=1e-5, rtol=1e-5)
    sign, expected = jnp.linalg.slogdet(jacobians)
    assert np.all(sign != 0)
    np.testing.assert_allclose(logdet[:3], expected, atol=2e-3, rtol=1e-4)


def test_actnorm_data_dependent_init_normalises_the_init_batch():
    x = 3.0 + 2.0 * jax.random.normal(jax.random.PRNGKey(0), (64, 4, 4, 3))
    _, _, y = ActNorm().init(jax.random.PRNGKey(1), x)
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(0, 1, 2)), 1.0, atol=1e-4)


def test_weight_norm_data_dependent_init_normalises_preactivations():
    x = 2.0 + jax.random.normal(jax.random.PRNGKey(0), (32, 6, 6, 5))
    for layer, inp in ((nets.WNConv(7), x), (nets.WNDense(7), x.reshape(32, -1))):
        variables = layer.init(jax.random.PRNGKey(1), inp)
        y = layer.apply(variables, inp)
        axes = tuple(range(y.ndim - 1))
        np.testing.assert_allclose(y.mean(axis=axes), 0.0, atol=1e-4)
        np.testing.assert_allclose(y.std(axis=axes), 1.0, atol=1e-3)


def test_batchnorm_trains_on_batch_stats_and_updates_running_stats():
    bn = BatchNorm(momentum=0.5)
    x = jax.random.normal(jax.random.PRNGKey(0), (16, 2, 2, 3))
    params, state, _ = bn.init(jax.random.PRNGKey(1), x)
    shifted = x + 4.0
    y, _, new_state = bn.forward(params, state, shifted, Ctx(train=True))
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(
        new_state['mean'],
        0.5 * state['mean'] + 0.5 * 4.0 + 0.5 * (x.mean(axis=(0, 1, 2))),
        atol=1e-5,
    )
    _, _, same = bn.forward(params, state, shifted)  # evaluation leaves the state alone
    np.testing.assert_allclose(same['mean'], state['mean'])


def test_mixture_cdf_inverse_in_the_tails():
    """Bisection must reach 1e-5 even far out where the CDF is within float32 eps of 0 or 1."""
    bijector = Coupling('alternate', 0, MixtureCDF(5), MLP)
    x = jnp.array([[0.3, -40.0], [1.0, 25.0], [-2.0, 1e-3]])
    params, state, _ = bijector.init(jax.random.PRNGKey(0), x)
    params = perturbed(params, 0.1, seed=1)
    y, _, _ = bijector.forward(params, state, x)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(bijector.inverse(params, state, y), x, atol=1e-5, rtol=1e-5)
