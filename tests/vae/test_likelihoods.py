"""Every decoder's p(x | z) is normalised over the dataset's values, through the LatentVariable
pieces a coder reads; the continuous pieces' cdf and icdf invert each other."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.core.pieces import Distribution, LatentVariable
from models.data.sources import image_spec
from models.vae import distributions as D
from models.vae.vae import model as vae_model


@pytest.mark.parametrize(
    'likelihood,levels,channels',
    [('bernoulli', 2, 1), ('logistic', 17, 1), ('logistic_mixture', 5, 3)],
)
def test_decoder_bins_sum_to_one(likelihood, levels, channels):
    spec = image_spec((4, 4, channels), levels)
    family, _, _ = vae_model(
        spec,
        latent_dim=3,
        encoder_hidden=(8,),
        decoder_hidden=(8,),
        likelihood=likelihood,
        num_mix=2,
    )
    batch = {
        'image': jnp.asarray(np.random.default_rng(0).integers(0, levels, (5, 4, 4, channels)))
    }
    variables = jax.jit(family.init)(jax.random.PRNGKey(0), batch)
    pieces = family.pieces
    assert isinstance(pieces, LatentVariable)
    # Far-out latents push the decoder's means and scales to extremes; bins must still add up.
    z = 6.0 * jax.random.normal(jax.random.PRNGKey(1), (5, 3))
    dist = jax.jit(pieces.likelihood)(variables, z)
    assert isinstance(dist, Distribution)
    if likelihood == 'logistic_mixture':
        table = dist.conditionals(batch['image'])  # [B, H, W, C, K]
    else:
        table = dist.bin_log_probs()  # [B, H, W, C, K]
    np.testing.assert_allclose(jnp.exp(table).sum(-1), 1.0, rtol=1e-5)
    draw = jax.jit(lambda d, k: d.sample(k))(dist, jax.random.PRNGKey(2))
    assert draw.shape == (5, 4, 4, channels) and float(draw.max()) < levels
    posterior = jax.jit(pieces.posterior, static_argnums=1)(variables, 1, batch['image'])
    assert posterior.mean.shape == (5, 3)


def test_continuous_pieces_cdf_and_icdf_invert():
    u = jnp.linspace(0.01, 0.99, 11)
    for dist in (D.DiagonalGaussian(0.3 * u, -u), D.Logistic(0.3 * u, -u)):
        np.testing.assert_allclose(dist.cdf(dist.icdf(u)), u, rtol=1e-5)
        # The density is the cdf's derivative.
        x = dist.icdf(u)
        eps = 1e-3
        slope = (dist.cdf(x + eps) - dist.cdf(x - eps)) / (2 * eps)
        np.testing.assert_allclose(slope, jnp.exp(dist.log_prob(x)), rtol=1e-3)


def test_iaf_posterior_refuses_a_coder_and_bad_settings_are_named():
    spec = image_spec((4, 4, 1), 17)
    family, _, _ = vae_model(spec, latent_dim=2, likelihood='logistic', iaf_steps=1)
    batch = {'image': jnp.zeros((2, 4, 4, 1), jnp.int32)}
    variables = jax.jit(family.init)(jax.random.PRNGKey(0), batch)
    with pytest.raises(NotImplementedError, match='IAF posterior'):
        family.pieces.posterior(variables, 1, batch['image'])
    with pytest.raises(ValueError, match="binarize to 'dynamic'"):
        vae_model(spec, likelihood='bernoulli')
    with pytest.raises(ValueError, match='continuous data'):
        vae_model(spec, likelihood='gaussian')
    with pytest.raises(ValueError, match='kl_groups 3 must divide latent_dim 4'):
        vae_model(spec, latent_dim=4, kl_groups=3, likelihood='logistic')


def test_bad_data_is_refused_before_compiling():
    from models.core.inputs import BadInputError
    from models.vae import hierarchy

    spec = image_spec((4, 4, 1), 17)
    family, _, _ = vae_model(spec, latent_dim=2, likelihood='logistic')
    variables = {'model': {}}  # never reached: the check comes first
    with pytest.raises(BadInputError, match=r'span \[17, 17\], outside the declared 17 levels'):
        family.log_prob(variables, {'image': np.full((2, 4, 4, 1), 17)}, jax.random.PRNGKey(0))
    with pytest.raises(BadInputError, match=r'per-example shape \(4, 4, 2\)'):
        family.log_prob(variables, {'image': np.zeros((2, 4, 4, 2), int)}, jax.random.PRNGKey(0))
    with pytest.raises(BadInputError, match='must hold integer levels'):
        family.log_prob(variables, {'image': np.zeros((2, 4, 4, 1))}, jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match='even H and W'):
        hierarchy.model(image_spec((5, 4, 1), 17))
