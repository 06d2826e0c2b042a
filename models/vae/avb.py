"""Adversarial variational Bayes (Mescheder, Nowozin & Geiger 2017, arXiv:1701.04722).

The posterior is implicit: the encoder takes noise as an input, z = f(x, eps), eps ~ N(0, I), with
the noise added through a linear map at every hidden layer (as the paper's encoders do), so
q(z | x) can take any shape and has no density. Its KL term comes from a second player, the
adversary T(x, z), trained to tell posterior draws (x, z ~ q(z|x)) from prior draws
(x, z ~ p(z)) with the logistic loss; its optimum is T*(x, z) = log q(z|x) - log p(z). The
encoder and decoder (player 'model') maximise E_q[log p(x|z) - T(x, z)].

T has the paper's form <theta(x), s(z)> + T_x(x) + T_z(z) + |z|^2 / 2: the last term is
-log p(z) up to a constant, so the networks only model log q. The adaptive-contrast variant is not
implemented.

Evaluation: AVB's own objective is not a bound (T only approximates the log ratio), so the
test metrics use a proposal r(z | x) that has a density: a diagonal Gaussian fitted to
`fit_samples` encoder draws per example, widened by `proposal_widen`. The importance-weighted
bound under r (`test/nll`, `test/iw_nll`) and its mean log weight (`test/elbo_nll`) are valid
lower bounds on log p(x) whatever r is; `test/adversarial_elbo_nll` reports the training objective.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models.core.family import Family, Variables, takes_keywords_of
from models.core.inputs import check_batch
from models.core.metrics import bits_per_dim
from models.vae import distributions as D
from models.vae.bounds import importance_weighted
from models.vae.likelihoods import Likelihood
from models.vae.vae import ACTIVATIONS, MLP


class NoisyEncoder(nn.Module):
    """z = f(x, eps): each hidden layer adds a linear map of the noise before its activation."""

    hidden: tuple[int, ...]
    latent_dim: int
    activation: str

    @nn.compact
    def __call__(self, x, eps):
        act = ACTIVATIONS[self.activation]
        h = x
        for width in self.hidden:
            h = act(nn.Dense(width)(h) + nn.Dense(width, use_bias=False)(eps))
        return nn.Dense(self.latent_dim)(h)


class Adversary(nn.Module):
    """T(x, z) = <theta(x), s(z)> + T_x(x) + T_z(z) + |z|^2 / 2."""

    hidden: tuple[int, ...]
    inner: int
    activation: str

    @nn.compact
    def __call__(self, x, z):
        theta = MLP(self.hidden, self.inner, self.activation, name='theta')(x)
        s = MLP(self.hidden, self.inner, self.activation, name='s')(z)
        t_x = MLP(self.hidden, 1, self.activation, name='t_x')(x)[:, 0]
        t_z = MLP(self.hidden, 1, self.activation, name='t_z')(z)[:, 0]
        return jnp.sum(theta * s, axis=-1) + t_x + t_z + 0.5 * jnp.sum(jnp.square(z), axis=-1)


def model(
    data_spec,
    latent_dim: int = 8,
    noise_dim: int = 32,
    encoder_hidden: tuple[int, ...] = (300, 300),
    decoder_hidden: tuple[int, ...] = (300, 300),
    adversary_hidden: tuple[int, ...] = (300, 300),
    adversary_inner: int = 64,
    activation: str = 'elu',
    likelihood: str = 'bernoulli',
    binarize: str | int | None = None,
    fit_samples: int = 64,
    proposal_widen: float = 1.2,
    iw_samples: int = 100,
    iw_chunk: int = 50,
):
    """Returns (family, decoder_log_likelihood): the family and log p(x | z) for exact checks."""
    lik = Likelihood(likelihood, data_spec, binarize, name='avb')
    if activation not in ACTIVATIONS:
        raise ValueError(f'avb: activation {activation!r} is not one of {sorted(ACTIVATIONS)}')
    if min(latent_dim, noise_dim, fit_samples, iw_samples, iw_chunk) < 1:
        raise ValueError(
            'avb: latent_dim, noise_dim, fit_samples, iw_samples, iw_chunk must be >= 1'
        )
    encoder = NoisyEncoder(tuple(encoder_hidden), latent_dim, activation)
    decoder = MLP(tuple(decoder_hidden), int(np.prod(lik.out_shape)), activation)
    adversary = Adversary(tuple(adversary_hidden), adversary_inner, activation)
    d = lik.num_dims

    def params(variables):
        return variables.params if isinstance(variables, Variables) else variables

    def flat(x):
        return x.reshape(x.shape[0], -1)

    def encode(variables, x_in, rng):
        eps = jax.random.normal(rng, (x_in.shape[0], noise_dim))
        return encoder.apply({'params': params(variables)['model']['encoder']}, flat(x_in), eps)

    def log_likelihood(variables, z, targets):
        """[B, Z] latents, [B, ...] targets -> log p(x | z) [B]."""
        out = decoder.apply({'params': params(variables)['model']['decoder']}, z)
        return lik.log_prob(lik.distribution(out.reshape(z.shape[0], *lik.out_shape)), targets)

    def critic(variables, x_in, z):
        return adversary.apply({'params': params(variables)['disc']}, flat(x_in), z)

    def init(rng, batch):
        k_enc, k_dec, k_adv, k_eps = jax.random.split(rng, 4)
        x_in = flat(lik.network_input(lik.targets(batch, rng)))
        eps = jnp.zeros((x_in.shape[0], noise_dim))
        z = jnp.zeros((x_in.shape[0], latent_dim))
        return {
            'model': {
                'encoder': encoder.init(k_enc, x_in, eps)['params'],
                'decoder': decoder.init(k_dec, z)['params'],
            },
            'disc': adversary.init(k_adv, x_in, z)['params'],
        }

    def loss(variables, batch, ctx):
        k_bin, k_q, k_p = jax.random.split(ctx.rng, 3)
        targets = lik.targets(batch, k_bin)
        x_in = lik.network_input(targets)
        z_q = encode(variables, x_in, k_q)
        z_p = jax.random.normal(k_p, z_q.shape)
        # The adversary's logistic loss; it sees the posterior draws as data, not as functions of
        # the encoder (each player differentiates its own loss only).
        t_q = critic(variables, x_in, jax.lax.stop_gradient(z_q))
        t_p = critic(variables, x_in, z_p)
        disc = jnp.mean(jax.nn.softplus(-t_q) + jax.nn.softplus(t_p))
        recon = log_likelihood(variables, z_q, targets)
        kl = critic(variables, x_in, z_q)  # T(x, z) ~ log q(z|x) - log p(z), through z
        objective = -jnp.mean(recon - kl)
        metrics = {
            'bpd/recon': bits_per_dim(-recon.mean(), d),
            'bpd/kl': bits_per_dim(kl.mean(), d),
            'bpd/total': bits_per_dim(objective, d),
            'disc/accuracy': 0.5 * jnp.mean((t_q > 0).astype(jnp.float32))
            + 0.5 * jnp.mean((t_p < 0).astype(jnp.float32)),
        }
        return {'model': objective / d, 'disc': disc}, metrics, variables.state

    def log_prob(variables, batch, rng):
        if not isinstance(batch[data_spec.key], jax.core.Tracer):
            check_batch({data_spec.key: np.asarray(batch[data_spec.key])}, data_spec, 'avb')
        k_bin, k_fit, k_iw, k_adv = jax.random.split(rng, 4)
        targets = lik.targets(batch, k_bin)
        x_in = lik.network_input(targets)
        b = x_in.shape[0]
        tiled = jnp.broadcast_to(x_in, (fit_samples, *x_in.shape)).reshape(
            fit_samples * b, *x_in.shape[1:]
        )
        draws = encode(variables, tiled, k_fit).reshape(fit_samples, b, latent_dim)
        proposal = D.DiagonalGaussian(
            draws.mean(axis=0), jnp.log(proposal_widen * draws.std(axis=0) + 1e-3)
        )
        prior = D.standard_gaussian((latent_dim,))

        def log_weights(key, n):
            z = proposal.mean + jnp.exp(proposal.log_scale) * jax.random.normal(
                key, (n, b, latent_dim)
            )
            rows = jnp.broadcast_to(targets, (n, *targets.shape)).reshape(n * b, *targets.shape[1:])
            lp = log_likelihood(variables, z.reshape(n * b, -1), rows).reshape(n, b)
            return lp + (prior.log_prob(z) - proposal.log_prob(z)).sum(axis=-1)

        iw, elbo = importance_weighted(log_weights, k_iw, iw_samples, iw_chunk)
        z = encode(variables, x_in, k_adv)
        adversarial = log_likelihood(variables, z, targets) - critic(variables, x_in, z)
        return {'log_prob': iw, 'iw': iw, 'elbo': elbo, 'adversarial_elbo': adversarial}

    def sample(variables, rng, num):
        k_z, k_x = jax.random.split(rng)
        z = jax.random.normal(k_z, (num, latent_dim))
        out = decoder.apply({'params': params(variables)['model']['decoder']}, z)
        return lik.to_data(lik.distribution(out.reshape(num, *lik.out_shape)).sample(k_x))

    family = Family(init=init, loss=loss, sample=sample, log_prob=log_prob)
    return family, log_likelihood


@takes_keywords_of(model)
def make(data_spec, **kw) -> Family:
    return model(data_spec, **kw)[0]
