"""A two-layer Markov chain of logistic latents with linear maps, as `LatentVariable` pieces:
Bit-Swap's ordering tested against a Monte Carlo ELBO at a fraction of the hierarchy's compile
time (the hierarchy's own pieces: `experiments/benchmarks/bits_back_rates.py`)."""

import jax
import jax.numpy as jnp
import numpy as np

from models.vae import distributions as D

DATA_DIMS, LATENT, LEVELS = 6, 4, 5


class ToyChain:
    latent_shapes = ((LATENT,), (LATENT,))

    @staticmethod
    def init(seed):
        """Host-drawn weights (a jax.random draw per shape would compile a kernel each)."""
        normal = np.random.default_rng(seed).standard_normal
        return {
            # Latents within about 2 of 0, where the top prior's buckets are fine (in its tails
            # they widen, and a coarse bucket is no longer the continuous ELBO's density).
            'q1': jnp.asarray(normal((DATA_DIMS, LATENT)), jnp.float32) * 0.4,
            'q2': jnp.asarray(normal((LATENT, LATENT)), jnp.float32) * 0.4,
            'p1': jnp.asarray(normal((LATENT, LATENT)), jnp.float32) * 0.8,
            'x': jnp.asarray(normal((LATENT, DATA_DIMS)), jnp.float32),
        }

    def posterior(self, params, layer, below):
        if layer == 1:
            unit = below.astype(jnp.float32) / (LEVELS - 1) * 2.0 - 1.0
            return D.Logistic(unit @ params['q1'], jnp.full((LATENT,), -1.5))
        return D.Logistic(below @ params['q2'], jnp.full((LATENT,), -0.7))

    def prior(self, params, layer, above):
        if layer == 2:
            return D.Logistic(jnp.zeros(LATENT), jnp.zeros(LATENT))
        return D.Logistic(above @ params['p1'], jnp.full((LATENT,), -0.4))

    def likelihood(self, params, z1):
        mean = jnp.tanh(z1 @ params['x'])
        return D.DiscretizedLogistic(mean, jnp.full_like(mean, -1.2), LEVELS)


@jax.jit
def elbo(params, x, rng, samples=512):
    """[B] Monte Carlo ELBO in nats over `samples` draws of the inference chain."""
    chain = ToyChain()

    def one(key):
        k1, k2 = jax.random.split(key)
        q1 = chain.posterior(params, 1, x)
        z1 = q1.sample(k1)
        q2 = chain.posterior(params, 2, z1)
        z2 = q2.sample(k2)
        log_p = (
            chain.likelihood(params, z1).log_prob(x).sum(-1)
            + chain.prior(params, 1, z2).log_prob(z1).sum(-1)
            + chain.prior(params, 2, None).log_prob(z2).sum(-1)
        )
        return log_p - q1.log_prob(z1).sum(-1) - q2.log_prob(z2).sum(-1)

    return jax.vmap(one)(jax.random.split(rng, samples)).mean(0)
