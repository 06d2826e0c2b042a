"""The variational autoencoder (Kingma & Welling 2013, arXiv:1312.6114) with a diagonal Gaussian
or an inverse-autoregressive-flow posterior (Kingma et al. 2016, arXiv:1606.04934).

    p(z) = N(0, I),  p(x | z) = a `Likelihood` of the decoder's output,
    q(z | x): z0 = mu + sigma * eps, then `iaf_steps` IAF steps reading the encoder's context h.

Training maximises the one-sample reparameterised ELBO: log p(x|z) - beta KL, with the KL in
closed form for the diagonal posterior and as the sample's log q(z|x) - log p(z) for IAF, beta
warmed up over `kl_warmup_steps`, and free bits (`free_bits` nats per group of latent dimensions,
`kl_groups` groups). The test metrics are the importance-weighted bound with `iw_samples`
posterior draws in chunks of `iw_chunk` (`test/nll`, `test/iw_nll`) beside the ELBO estimated from
the same draws' mean log weight (`test/elbo_nll`, `test/elbo_bpd`);
`config.eval.model_kw.iw_samples` changes k for a finished run without touching its checkpoints.

Encoder and decoder are MLPs over the flattened data. `Family.pieces` is the `LatentVariable`
view (one layer) that BB-ANS codes with; it needs the diagonal posterior (an IAF posterior is
autoregressive in z, not a product of per-element distributions).
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
from models.vae.bounds import free_bits_kl, importance_weighted, kl_weight
from models.vae.iaf import IAF
from models.vae.likelihoods import Likelihood

ACTIVATIONS = {
    'relu': jax.nn.relu,
    'elu': jax.nn.elu,
    'tanh': jnp.tanh,
    'softplus': jax.nn.softplus,
}


class MLP(nn.Module):
    hidden: tuple[int, ...]
    out: int
    activation: str

    @nn.compact
    def __call__(self, x):
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(nn.Dense(width)(x))
        return nn.Dense(self.out)(x)


class VAENet(nn.Module):
    latent_dim: int
    encoder_hidden: tuple[int, ...]
    decoder_hidden: tuple[int, ...]
    out_shape: tuple[int, ...]
    data_dims: int
    activation: str
    iaf_steps: int
    iaf_hidden: tuple[int, ...]
    context_dim: int
    learned_scale: bool

    def setup(self):
        context = self.context_dim if self.iaf_steps else 0
        self.encoder = MLP(self.encoder_hidden, 2 * self.latent_dim + context, self.activation)
        self.decoder = MLP(self.decoder_hidden, int(np.prod(self.out_shape)), self.activation)
        if self.iaf_steps:
            self.flow = IAF(self.latent_dim, self.iaf_steps, self.iaf_hidden)
        if self.learned_scale:
            self.log_scale = self.param('likelihood_log_scale', nn.initializers.zeros, (1,))

    def encode(self, x):
        """[B, *data] floats -> posterior base mean, log-scale [B, Z] and context h [B, H]."""
        out = self.encoder(x.reshape(x.shape[0], -1))
        z = self.latent_dim
        return out[:, :z], out[:, z : 2 * z], out[:, 2 * z :]

    def transform(self, z0, h):
        return self.flow(z0, h) if self.iaf_steps else (z0, jnp.zeros_like(z0))

    def decode(self, z):
        out = self.decoder(z).reshape(z.shape[0], *self.out_shape)
        return out, (self.log_scale if self.learned_scale else None)

    def __call__(self, x):
        mean, _, h = self.encode(x)
        z, _ = self.transform(mean, h)
        return self.decode(z)


def model(
    data_spec,
    latent_dim: int = 32,
    encoder_hidden: tuple[int, ...] = (500,),
    decoder_hidden: tuple[int, ...] = (500,),
    activation: str = 'relu',
    likelihood: str = 'bernoulli',
    binarize: str | int | None = None,
    num_mix: int = 5,
    iaf_steps: int = 0,
    iaf_hidden: tuple[int, ...] = (256,),
    context_dim: int = 64,
    kl_warmup_steps: int = 0,
    free_bits: float = 0.0,
    kl_groups: int = 0,
    iw_samples: int = 100,
    iw_chunk: int = 50,
):
    """Returns (family, net, lik): the family and the pieces a test builds exact models from.

    kl_groups: groups of latent dimensions for free bits (0: one per dimension)."""
    lik = Likelihood(likelihood, data_spec, binarize, num_mix, 'vae')
    if activation not in ACTIVATIONS:
        raise ValueError(f'vae: activation {activation!r} is not one of {sorted(ACTIVATIONS)}')
    groups = kl_groups or latent_dim
    if latent_dim < 1 or latent_dim % groups:
        raise ValueError(f'vae: kl_groups {groups} must divide latent_dim {latent_dim}')
    if iw_samples < 1 or iw_chunk < 1:
        raise ValueError(f'vae: iw_samples {iw_samples} and iw_chunk {iw_chunk} must be >= 1')
    net = VAENet(
        latent_dim,
        tuple(encoder_hidden),
        tuple(decoder_hidden),
        lik.out_shape,
        lik.num_dims,
        activation,
        int(iaf_steps),
        tuple(iaf_hidden),
        int(context_dim),
        likelihood == 'gaussian',
    )
    d = lik.num_dims

    def params_of(variables):
        return variables.params['model'] if isinstance(variables, Variables) else variables['model']

    def apply(variables, *args, method):
        return net.apply({'params': params_of(variables)}, *args, method=method)

    def posterior_draws(variables, x_in, rng, num):
        """num draws per example: z [num, B, Z] and the per-dimension terms of log q [num, B, Z]."""
        mean, log_scale, h = apply(variables, x_in, method=VAENet.encode)
        eps = jax.random.normal(rng, (num, *mean.shape))
        z0 = mean + jnp.exp(log_scale) * eps
        rows = num * mean.shape[0]
        flat = lambda a: a.reshape(rows, a.shape[-1])  # noqa: E731 (h may have width 0)
        hs = jnp.broadcast_to(h, (num, *h.shape))
        z, logdet = apply(variables, flat(z0), flat(hs), method=VAENet.transform)
        log_q = -0.5 * jnp.square(eps) - log_scale - D.HALF_LOG_2PI - logdet.reshape(z0.shape)
        return z.reshape(z0.shape), log_q

    def log_likelihood(variables, z, targets):
        """z [n, B, Z], targets [B, ...] -> log p(x | z) [n, B]."""
        n, b = z.shape[:2]
        out, log_scale = apply(variables, z.reshape(n * b, -1), method=VAENet.decode)
        dist = lik.distribution(out, log_scale)
        tiled = jnp.broadcast_to(targets, (n, *targets.shape)).reshape(n * b, *targets.shape[1:])
        return lik.log_prob(dist, tiled).reshape(n, b)

    def kl_terms(variables, x_in, rng):
        """One posterior draw: z [1, B, Z] and the per-dimension KL [B, Z] (closed form for the
        diagonal posterior, the draw's log q - log p for IAF)."""
        z, log_q = posterior_draws(variables, x_in, rng, 1)
        if iaf_steps:
            return z, (log_q - D.standard_gaussian(z.shape).log_prob(z))[0]
        mean, log_scale, _ = apply(variables, x_in, method=VAENet.encode)
        return z, D.DiagonalGaussian(mean, log_scale).kl(D.standard_gaussian(mean.shape))

    def init(rng, batch):
        targets = lik.targets(batch, rng)
        return {'model': net.init(rng, lik.network_input(targets))['params']}

    def loss(variables, batch, ctx):
        bin_key, z_key = jax.random.split(ctx.rng)
        targets = lik.targets(batch, bin_key)
        z, kl = kl_terms(variables, lik.network_input(targets), z_key)
        recon = -log_likelihood(variables, z, targets)[0]  # [B]
        beta = kl_weight(ctx.step, kl_warmup_steps)
        objective = recon.mean() + beta * free_bits_kl(kl, free_bits, groups)
        kl_total = kl.sum(axis=-1)
        metrics = {
            'bpd/recon': bits_per_dim(recon.mean(), d),
            'bpd/kl': bits_per_dim(kl_total.mean(), d),
            'bpd/total': bits_per_dim((recon + kl_total).mean(), d),
            'kl_weight': beta,
        }
        return {'model': objective / d}, metrics, variables.state

    def log_prob(variables, batch, rng):
        if not isinstance(batch[data_spec.key], jax.core.Tracer):
            check_batch(
                {data_spec.key: np.asarray(batch[data_spec.key])}, data_spec, 'vae.log_prob'
            )
        bin_key, iw_key = jax.random.split(rng)
        targets = lik.targets(batch, bin_key)
        x_in = lik.network_input(targets)

        def log_weights(key, n):
            zs, log_q = posterior_draws(variables, x_in, key, n)
            log_p = D.standard_gaussian(zs.shape).log_prob(zs)
            return log_likelihood(variables, zs, targets) + (log_p - log_q).sum(axis=-1)

        # The ELBO is the mean log weight of the same k draws (a k-sample estimate).
        iw, elbo = importance_weighted(log_weights, iw_key, iw_samples, iw_chunk)
        return {'log_prob': iw, 'iw': iw, 'elbo': elbo}

    def sample(variables, rng, num):
        z_key, x_key = jax.random.split(rng)
        z = jax.random.normal(z_key, (num, latent_dim))
        out, log_scale = apply(variables, z, method=VAENet.decode)
        return lik.to_data(lik.distribution(out, log_scale).sample(x_key))

    pieces = LatentPieces(net, lik, latent_dim, iaf_steps > 0, params_of)
    family = Family(init=init, loss=loss, sample=sample, log_prob=log_prob, pieces=pieces)
    return family, net, lik


class LatentPieces:
    """`models.core.pieces.LatentVariable` of the one-layer VAE. `posterior(variables, 1, x)`
    takes x as the likelihood scores it (0/1 for a Bernoulli likelihood, levels otherwise)."""

    def __init__(self, net, lik, latent_dim, has_flow, params_of):
        self.latent_shapes = ((latent_dim,),)
        self._net, self._lik, self._has_flow, self._params_of = net, lik, has_flow, params_of

    def _apply(self, variables, *args, method):
        return self._net.apply({'params': self._params_of(variables)}, *args, method=method)

    def prior(self, variables, layer, above):
        del variables, above
        self._check_layer(layer)
        return D.standard_gaussian(self.latent_shapes[0])

    def posterior(self, variables, layer, below):
        self._check_layer(layer)
        if self._has_flow:
            raise NotImplementedError(
                'vae: an IAF posterior is autoregressive in z; its LatentVariable pieces would '
                'need a per-dimension coder. Code with a diagonal-posterior VAE.'
            )
        mean, log_scale, _ = self._apply(
            variables, self._lik.network_input(below), method=VAENet.encode
        )
        return D.DiagonalGaussian(mean, log_scale)

    def likelihood(self, variables, z1):
        out, log_scale = self._apply(variables, z1, method=VAENet.decode)
        return self._lik.distribution(out, log_scale)

    def _check_layer(self, layer):
        if layer != 1:
            raise ValueError(f'vae: one latent layer (layer 1); got layer {layer}')


@takes_keywords_of(model)
def make(data_spec, **kw) -> Family:
    return model(data_spec, **kw)[0]
