"""The flows' typed pieces (models.core.pieces.Bijective) as a coder would use them: they add up
to the family's likelihood on the same key, invert, quantise back to the data, and report one
log-determinant per elementary layer that matches that layer's Jacobian (jax.jacfwd)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.core.family import Variables
from models.core.pieces import Bijective
from models.flows import flowpp, nice, realnvp
from models.flows.bijector import Chain
from models.flows.squeeze import FactorOut
from tests.flows import test_models
from tests.flows.test_models import DIGITS, TWO_D
from tests.perturb import perturbed

# Attention is tested in test_bijectors.py and test_models.py; here it would double the compile
# time and test nothing about the pieces.
TINY_FPP = {**test_models.TINY_FPP, 'attention': False}
# (make the family, perturbation of its parameters). Small: random scales compound over a whole
# flow, and a mixture CDF with large random scales is nearly flat (an ill-conditioned inverse).
FAMILIES = {
    'nice': (lambda: nice.make(DIGITS, couplings=2, features=8, layers=1), 0.05),
    'realnvp_batchnorm': (
        lambda: realnvp.make(DIGITS, scales=2, features=8, blocks=1, norm='batchnorm'),
        0.05,
    ),
    'flowpp': (lambda: flowpp.make(DIGITS, **TINY_FPP), 0.02),
    'realnvp_2d': (lambda: realnvp.make(TWO_D, couplings=2, features=8, blocks=1), 0.05),
}


def _data(spec, seed=0, batch=16):
    key = jax.random.PRNGKey(seed)
    if spec.num_levels is None:
        return {spec.key: jax.random.normal(key, (batch, *spec.shape))}
    return {spec.key: jax.random.randint(key, (batch, *spec.shape), 0, spec.num_levels)}


def _spec(name):
    return TWO_D if name.endswith('2d') else DIGITS


def _variables(name):
    make, scale = FAMILIES[name]
    family = make()
    variables = jax.jit(family.init)(jax.random.PRNGKey(1), _data(_spec(name)))
    # Trained parameters only: the loop state (batch-norm statistics, 1x1-conv permutations) is
    # what training would leave it.
    return family, Variables(perturbed(variables.params, scale, seed=2), variables.state)


@pytest.mark.parametrize('name', list(FAMILIES))
def test_pieces_are_bijective_and_add_up_to_the_family_log_prob(name):
    family, variables = _variables(name)
    pieces = family.pieces
    assert isinstance(pieces, Bijective)
    spec = _spec(name)
    assert pieces.event_shape == spec.shape and pieces.num_levels == spec.num_levels
    batch = _data(spec, seed=3)
    x = batch[spec.key]

    @jax.jit
    def everything(variables, batch, rng):
        y, log_q = pieces.dequantize(variables, batch, rng)
        z, logdets = pieces.forward(variables, y)
        total = sum(logdets) + pieces.prior_log_prob(z) - log_q
        log_p = family.log_prob(variables, batch, rng)
        return y, log_q, z, logdets, total, log_p, pieces.inverse(variables, z)

    rng = jax.random.PRNGKey(4)
    y, log_q, z, logdets, total, log_p, back = everything(variables, batch, rng)
    assert y.shape == z.shape == x.shape and all(ld.shape == (len(x),) for ld in logdets)
    np.testing.assert_allclose(total, log_p, rtol=1e-5, atol=1e-4)
    assert not np.allclose(z, y), 'the perturbed flow must not be the identity'
    np.testing.assert_allclose(back, y, atol=1e-5, rtol=1e-5)
    quantized = pieces.quantize(y)
    np.testing.assert_array_equal(quantized, x)
    if spec.num_levels is None:
        np.testing.assert_array_equal(log_q, 0.0)
        return
    assert quantized.dtype == jnp.int32
    # log q(y | x) is the density of y = (x + u) / K: D log K for uniform noise, and for Flow++'s
    # q(u | x) something else that depends on x.
    uniform = np.prod(spec.shape) * np.log(spec.num_levels)
    if name == 'flowpp':
        assert np.std(np.asarray(log_q)) > 1e-3
    else:
        np.testing.assert_allclose(log_q, uniform, rtol=1e-6)
    # The eval loop's key is the noise: another key, another estimate; the same key, the same.
    _, _, _, _, _, again, _ = everything(variables, batch, rng)
    _, _, _, _, _, other, _ = everything(variables, batch, jax.random.PRNGKey(5))
    np.testing.assert_array_equal(again, log_p)
    assert not np.allclose(other, log_p)


def elementary_maps(bijector, params, state):
    """Each elementary layer as a map of the whole activation, in the order applied: chains are
    walked in order and a factor-out's inner layers act on the second half of the channels."""
    if isinstance(bijector, Chain):
        for key, layer in zip(sorted(params), bijector.layers, strict=True):
            yield from elementary_maps(layer, params[key], state.get(key, {}))
    elif isinstance(bijector, FactorOut):
        for inner in elementary_maps(bijector.inner, params, state):

            def on_rest(x, inner=inner):
                half = x.shape[-1] // 2
                return jnp.concatenate([x[..., :half], inner(x[..., half:])], axis=-1)

            yield on_rest
    else:
        yield lambda x: bijector.forward(params, state, x)[0]


@pytest.mark.parametrize('name', ['nice', 'realnvp_batchnorm'])
def test_per_layer_log_determinants_match_each_layers_jacobian(name):
    """NICE (flatten, couplings, actnorm, unflatten) and a two-scale RealNVP (logit, nested
    chains, squeeze, factor-out, batch norm). Every layer kind's own log-determinant, Flow++'s
    included, is checked in test_bijectors.py; this checks the flattening into one list."""
    family, variables = _variables(name)
    pieces = family.pieces
    flow_params = variables.params['model']['flow']
    flow_state = variables.state.get('flow', {}) if variables.state else {}
    y, _ = pieces.dequantize(variables, _data(DIGITS, seed=3, batch=2), jax.random.PRNGKey(4))

    @jax.jit
    def check(variables, y):
        z, logdets = pieces.forward(variables, y)
        x, expected = y[:1], []
        for layer in elementary_maps(pieces.flow, flow_params, flow_state):

            def flat(v, layer=layer, shape=x.shape):
                return layer(v.reshape(shape)).reshape(-1)

            expected.append(jnp.linalg.slogdet(jax.jacfwd(flat)(x.reshape(-1))))
            x = layer(x)
        return z, logdets, expected, x

    z, logdets, expected, end = check(variables, y)
    assert len(logdets) == len(expected)
    np.testing.assert_allclose(end, z[:1], rtol=1e-5, atol=1e-5)
    signs = np.array([sign for sign, _ in expected])
    assert np.all(signs != 0)
    got = np.array([logdet[0] for logdet in logdets])
    np.testing.assert_allclose(got, [value for _, value in expected], atol=2e-3, rtol=1e-4)
    # Not vacuous: NICE's additive couplings preserve volume (only its actnorm scales); every
    # RealNVP coupling and batch norm changes it.
    assert np.sum(np.abs(got) > 1e-3) >= (1 if name == 'nice' else 5), got
