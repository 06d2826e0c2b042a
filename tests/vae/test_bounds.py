"""The VAE's bounds on a model whose log p(x) is exact (probabilistic PCA), the importance-weighted
bound's chunking, the Monte Carlo KL against the closed form, and free bits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.core.family import Context, Variables
from models.data.sources import DatasetSpec
from models.vae import distributions as D
from models.vae.bounds import free_bits_kl, importance_weighted
from models.vae.vae import model as vae_model

DIMS, LATENT, SIGMA = 5, 2, 0.5


def _ppca(encoder='exact', **kw):
    """A linear VAE that is exactly probabilistic PCA, W with orthogonal columns so that the
    exact posterior is diagonal; `encoder='exact'` sets q(z|x) to it, 'off' perturbs it."""
    spec = DatasetSpec('ppca', (DIMS,), 'x', None, None, {})
    kw = {
        'latent_dim': LATENT,
        'encoder_hidden': (),
        'decoder_hidden': (),
        'likelihood': 'gaussian',
        **kw,
    }
    family, _, _ = vae_model(spec, **kw)
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(DIMS, DIMS)))
    w = q[:, :LATENT] * np.array([2.0, 1.0])  # [D, Z]
    b = rng.normal(size=DIMS)
    cov = 1.0 / (1.0 + np.sum(w * w, axis=0) / SIGMA**2)  # diagonal posterior covariance
    gain = w * cov / SIGMA**2  # [D, Z]: posterior mean = (x - b) @ gain
    kernel = np.concatenate([gain, np.zeros((DIMS, LATENT))], axis=1)
    bias = np.concatenate([-b @ gain, 0.5 * np.log(cov)])
    if encoder == 'off':
        # Means shrunk and scales narrowed: heavy-tailed weights, so the bound climbs slowly in k.
        kernel[:, :LATENT] *= 0.5
        bias[LATENT:] -= 0.7
    params = {
        'encoder': {'Dense_0': {'kernel': kernel, 'bias': bias}},
        'decoder': {'Dense_0': {'kernel': w.T, 'bias': b}},
        'likelihood_log_scale': np.array([np.log(SIGMA)]),
    }
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), params)
    x = rng.multivariate_normal(b, w @ w.T + SIGMA**2 * np.eye(DIMS), size=64).astype(np.float32)
    cov_x = w @ w.T + SIGMA**2 * np.eye(DIMS)
    diff = x - b
    exact = -0.5 * (
        np.einsum('bi,ij,bj->b', diff, np.linalg.inv(cov_x), diff)
        + np.linalg.slogdet(cov_x)[1]
        + DIMS * np.log(2 * np.pi)
    )
    return family, Variables({'model': params}, {}), {'x': x}, exact


def test_the_exact_posterior_closes_every_gap():
    family, variables, batch, exact = _ppca('exact', iw_samples=7, iw_chunk=3)
    bounds = jax.jit(family.log_prob)(variables, batch, jax.random.PRNGKey(0))
    # With q = p(z|x) every importance weight equals p(x): exact for any k and any draw.
    np.testing.assert_allclose(bounds['iw'], exact, atol=2e-4)
    np.testing.assert_allclose(bounds['elbo'], exact, atol=2e-4)


def test_elbo_lies_below_and_the_iw_bound_rises_towards_log_px():
    means = {}
    for k in (1, 10, 100, 1000):
        family, variables, batch, exact = _ppca('off', iw_samples=k, iw_chunk=64)
        bounds = jax.jit(family.log_prob)(variables, batch, jax.random.PRNGKey(1))
        means[k] = float(np.mean(bounds['iw']))
    elbo = np.asarray(bounds['elbo'])  # the mean log weight of 1,000 draws: the ELBO itself
    assert np.all(elbo < exact)
    exact_mean = float(np.mean(exact))
    gap = exact_mean - float(np.mean(elbo))
    assert gap > 0.3
    assert means[1] < means[10] < means[100] < means[1000] < exact_mean
    assert exact_mean - means[1000] < 0.5 * gap


def test_chunked_importance_weights_equal_one_pass():
    def log_weights(key, n):
        return 3.0 * jax.random.normal(key, (n, 4))

    rng = jax.random.PRNGKey(3)
    chunked, mean = importance_weighted(log_weights, rng, num_samples=10, chunk=3)
    rows = jnp.concatenate([log_weights(jax.random.fold_in(rng, i), 3) for i in range(4)])[:10]
    direct = jax.nn.logsumexp(rows, axis=0) - np.log(10.0)
    np.testing.assert_allclose(chunked, direct, rtol=1e-6)
    np.testing.assert_allclose(mean, rows.mean(axis=0), rtol=1e-6)
    with pytest.raises(ValueError, match='k >= 1'):
        importance_weighted(log_weights, rng, num_samples=0, chunk=3)


def test_monte_carlo_kl_matches_the_closed_form():
    q = D.DiagonalGaussian(jnp.array([0.3, -1.0, 2.0]), jnp.array([-0.5, 0.2, 0.0]))
    p = D.DiagonalGaussian(jnp.array([0.0, 0.5, 1.0]), jnp.array([0.0, -0.3, 0.4]))
    z = jax.vmap(q.sample)(jax.random.split(jax.random.PRNGKey(0), 200_000))
    terms = np.asarray(q.log_prob(z) - p.log_prob(z))
    error = terms.std(axis=0) / np.sqrt(len(terms))
    assert np.all(np.abs(terms.mean(axis=0) - np.asarray(q.kl(p))) < 4 * error)


def test_free_bits_give_a_group_below_its_floor_no_gradient():
    kl = jnp.array([[0.1, 0.1, 2.0, 1.0], [0.2, 0.0, 1.0, 3.0]])  # group means 0.2 and 3.5
    grad = jax.grad(lambda k: free_bits_kl(k, 0.5, 2))(kl)
    np.testing.assert_array_equal(grad[:, :2], 0.0)
    np.testing.assert_allclose(grad[:, 2:], 0.5)  # d mean / d element = 1 / batch
    assert float(free_bits_kl(kl, 0.5, 2)) == pytest.approx(0.5 + 3.5)


def test_free_bits_above_every_kl_leave_only_the_reconstruction_gradient():
    family, variables, batch, _ = _ppca('off', free_bits=1e6)
    ctx = Context(jax.random.PRNGKey(0), jnp.int32(0))

    def part(name):
        def f(params):
            losses, metrics, _ = family.loss(Variables(params, {}), batch, ctx)
            return losses['model'] if name == 'loss' else metrics['bpd/recon'] * np.log(2.0)

        return jax.jit(jax.grad(f))(variables.params)

    for a, b in zip(jax.tree.leaves(part('loss')), jax.tree.leaves(part('recon')), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
