"""The Bit-Swap hierarchy (F. Kingma, Abbeel & Ho 2019, arXiv:1905.06845): a Markov chain of
latent layers x -> z_1 -> ... -> z_L, in both directions.

    generative: p(z_L) p(z_{L-1} | z_L) ... p(z_1 | z_2) p(x | z_1)
    inference:  q(z_1 | x) q(z_2 | z_1) ... q(z_L | z_{L-1})

Each z_i is a [H/2, W/2, zchannels] map (the image squeezed 2x2 into channels, as the paper's
16x16 latents of 32x32 images). Every latent conditional is a logistic whose mean and scale come
from its own weight-normalised ELU ResNet; the top prior is the standard logistic. The paper's
scale ranges: posteriors 0.1 + 0.9 sigmoid(. + 2), priors 0.1 + 0.9 softplus(. + log(e - 1)).
p(x | z_1) is a discretised logistic over the dataset's levels whose per-pixel scale is a free
parameter (min bin/8 + softplus), as in the paper. `blocks` ResNet blocks are dealt round-robin
over the layers (each layer's q and p net get the same count); `processing` 5x5 blocks sit next
to x in q(z_1 | x) and p(x | z_1).

Training: the one-sample ELBO with free bits of `free_bits` nats per (layer, channel): a layer's
KL (log q - log p of the sample) summed over positions and averaged over the batch counts at least
that much (the paper: 1 bit). Evaluation: the ELBO (Bit-Swap's reported number) and the
importance-weighted bound. `Family.pieces` is the `LatentVariable` chain Bit-Swap codes with.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models.autoregressive.logistic_mixture import to_unit
from models.core.family import Family, Variables, takes_keywords_of
from models.core.inputs import check_batch
from models.core.metrics import bits_per_dim
from models.flows.squeeze import squeeze2, unsqueeze2
from models.layers.dropout import dropout
from models.layers.weight_norm import WNConv
from models.vae import distributions as D
from models.vae.bounds import free_bits_per_channel, importance_weighted, kl_weight

LOG_E_MINUS_1 = math.log(math.e - 1.0)


class ResBlock(nn.Module):
    """ELU, conv, ELU, dropout, conv, added to the input; the second conv starts at zero gain so
    that every block starts as the identity."""

    width: int
    kernel: int
    rate: float

    @nn.compact
    def __call__(self, x, train: bool):
        k = (self.kernel, self.kernel)
        h = WNConv(self.width, k)(jax.nn.elu(x))
        rng = self.make_rng('dropout') if train and self.rate > 0 else None
        h = dropout(jax.nn.elu(h), self.rate, rng)
        return x + WNConv(self.width, k, init_scale=0.0)(h)


class Tower(nn.Module):
    """conv(kernel_in) to `width`, then the blocks, each block list with its kernel."""

    width: int
    kernel_in: int
    stages: tuple[tuple[int, int], ...]  # (number of blocks, kernel)
    rate: float

    @nn.compact
    def __call__(self, x, train: bool):
        h = WNConv(self.width, (self.kernel_in, self.kernel_in))(x)
        for count, kernel in self.stages:
            for _ in range(count):
                h = ResBlock(self.width, kernel, self.rate)(h, train)
        return jax.nn.elu(h)


class LogisticHead(nn.Module):
    """Mean and scale of a logistic over `channels`, scale kept in [0.1, ...) as in the paper."""

    channels: int
    posterior: bool

    @nn.compact
    def __call__(self, h):
        mean = WNConv(self.channels, init_scale=0.1)(h)
        raw = WNConv(self.channels, init_scale=0.1)(h)
        if self.posterior:
            scale = 0.1 + 0.9 * jax.nn.sigmoid(raw + 2.0)
        else:
            scale = 0.1 + 0.9 * jax.nn.softplus(raw + LOG_E_MINUS_1)
        return D.Logistic(mean, jnp.log(scale))


class BitSwapNet(nn.Module):
    num_layers: int
    zchannels: int
    width: int
    depths: tuple[int, ...]  # ResNet blocks of each layer's nets
    processing: int
    channels: int  # of the image
    rate: float
    num_levels: int

    def setup(self):
        first = ((self.processing, 5), (self.depths[0], 3))
        self.q_towers = [Tower(self.width, 5, first, self.rate)] + [
            Tower(self.width, 3, ((self.depths[i], 3),), self.rate)
            for i in range(1, self.num_layers)
        ]
        self.q_heads = [LogisticHead(self.zchannels, True) for _ in range(self.num_layers)]
        # p(z_i | z_{i+1}) for i = 1 .. L-1 (index i - 1); p(z_L) is the standard logistic.
        self.p_towers = [
            Tower(self.width, 3, ((self.depths[i], 3),), self.rate)
            for i in range(self.num_layers - 1)
        ]
        self.p_heads = [LogisticHead(self.zchannels, False) for _ in range(self.num_layers - 1)]
        last = ((self.depths[0], 3), (self.processing, 5))
        self.x_tower = Tower(self.width, 3, last, self.rate)
        self.x_mean = WNConv(4 * self.channels, init_scale=0.1)
        self.x_scale = self.param('x_scale', nn.initializers.zeros, (1, 1, 1, self.channels))

    def posterior(self, layer, below, train=False):
        """q(z_layer | below): below is the image in [-1, 1] for layer 1, else z_{layer-1}."""
        i = layer - 1
        h = squeeze2(below) if layer == 1 else below
        return self.q_heads[i](self.q_towers[i](h, train))

    def prior(self, layer, above, train=False):
        """p(z_layer | z_{layer+1}) for layer < L."""
        i = layer - 1
        return self.p_heads[i](self.p_towers[i](above, train))

    def likelihood(self, z1, train=False):
        mean = unsqueeze2(self.x_mean(self.x_tower(z1, train)))
        min_scale = 2.0 / (self.num_levels - 1) / 8.0  # an eighth of a bin
        scale = min_scale + jax.nn.softplus(self.x_scale)
        return D.DiscretizedLogistic(
            mean, jnp.broadcast_to(jnp.log(scale), mean.shape), self.num_levels
        )

    def __call__(self, x_unit, train=False):
        """Touches every net once (for init): the inference chain, then the generative one."""
        z = x_unit
        zs = []
        for layer in range(1, self.num_layers + 1):
            z = self.posterior(layer, z, train).mean
            zs.append(z)
        for layer in range(1, self.num_layers):
            self.prior(layer, zs[layer], train)
        return self.likelihood(zs[0], train).mean


def round_robin(blocks: int, layers: int) -> tuple[int, ...]:
    """Blocks dealt one at a time to layers 1, 2, ..., L, 1, 2, ...: the paper's split."""
    return tuple(blocks // layers + (i < blocks % layers) for i in range(layers))


def model(
    data_spec,
    num_layers: int = 8,
    zchannels: int = 1,
    width: int = 61,
    blocks: int = 8,
    processing: int = 4,
    dropout_rate: float = 0.2,
    free_bits: float = math.log(2.0),
    kl_warmup_steps: int = 0,
    iw_samples: int = 100,
    iw_chunk: int = 25,
):
    levels, shape = data_spec.num_levels, tuple(data_spec.shape)
    if levels is None or len(shape) != 3 or shape[0] % 2 or shape[1] % 2:
        raise ValueError(
            f'bitswap: needs [H, W, C] images of discrete levels with even H and W; '
            f'{data_spec.name!r} has shape {shape} and levels {levels}'
        )
    if num_layers < 1 or blocks < 0 or width < 1:
        raise ValueError('bitswap: num_layers and width must be positive, blocks >= 0')
    if iw_samples < 1 or iw_chunk < 1:
        raise ValueError(f'bitswap: iw_samples {iw_samples} and iw_chunk {iw_chunk} must be >= 1')
    channels = shape[-1]
    latent = (shape[0] // 2, shape[1] // 2, zchannels)
    net = BitSwapNet(
        num_layers,
        zchannels,
        width,
        round_robin(blocks, num_layers),
        processing,
        channels,
        dropout_rate,
        levels,
    )
    d = int(np.prod(shape))

    def params_of(variables):
        return variables.params['model'] if isinstance(variables, Variables) else variables['model']

    def call(variables, method, *args, rng=None):
        train = rng is not None
        rngs = {'dropout': rng} if train else {}
        return net.apply(
            {'params': params_of(variables)}, *args, train=train, rngs=rngs, method=method
        )

    def chain(variables, x, rng, dropout_rng=None):
        """One draw of the inference chain for each row of x: log p(x | z_1) [B] and the
        per-layer KL terms log q - log p, each [B, *latent]."""
        keys = jax.random.split(rng, num_layers)
        below, zs, log_q = to_unit(x, levels), [], []
        for layer in range(1, num_layers + 1):
            dr = None if dropout_rng is None else jax.random.fold_in(dropout_rng, layer)
            q = call(variables, BitSwapNet.posterior, layer, below, rng=dr)
            z = q.sample(keys[layer - 1])
            zs.append(z)
            log_q.append(q.log_prob(z))
            below = z
        kls = []
        for layer in range(1, num_layers + 1):
            if layer == num_layers:
                p = D.Logistic(jnp.zeros(latent), jnp.zeros(latent))
            else:
                dr = None if dropout_rng is None else jax.random.fold_in(dropout_rng, 100 + layer)
                p = call(variables, BitSwapNet.prior, layer, zs[layer], rng=dr)
            kls.append(log_q[layer - 1] - p.log_prob(zs[layer - 1]))
        dr = None if dropout_rng is None else jax.random.fold_in(dropout_rng, 0)
        px = call(variables, BitSwapNet.likelihood, zs[0], rng=dr)
        return D.sum_except_batch(px.log_prob(x)), kls

    def init(rng, batch):
        x = batch[data_spec.key]
        params = net.init({'params': rng, 'dropout': rng}, to_unit(x, levels))['params']
        return {'model': params}

    def loss(variables, batch, ctx):
        chain_key, drop_key = jax.random.split(ctx.rng)
        log_px, kls = chain(variables, batch[data_spec.key], chain_key, drop_key)
        beta = kl_weight(ctx.step, kl_warmup_steps)
        floored = sum(free_bits_per_channel(kl, free_bits) for kl in kls)  # per layer, channel
        kl_total = sum(D.sum_except_batch(kl) for kl in kls)
        objective = -log_px.mean() + beta * floored
        metrics = {
            'bpd/recon': bits_per_dim(-log_px.mean(), d),
            'bpd/kl': bits_per_dim(kl_total.mean(), d),
            'bpd/total': bits_per_dim((kl_total - log_px).mean(), d),
            'kl_weight': beta,
        }
        for layer, kl in enumerate(kls, start=1):
            metrics[f'bpd/kl_z{layer}'] = bits_per_dim(D.sum_except_batch(kl).mean(), d)
        return {'model': objective / d}, metrics, variables.state

    def log_prob(variables, batch, rng):
        x = batch[data_spec.key]
        if not isinstance(x, jax.core.Tracer):
            check_batch({data_spec.key: np.asarray(x)}, data_spec, 'bitswap.log_prob')

        def log_weights(key, n):
            tiled = jnp.broadcast_to(x, (n, *x.shape)).reshape(n * x.shape[0], *x.shape[1:])
            lp, ks = chain(variables, tiled, key)
            return (lp - sum(D.sum_except_batch(k) for k in ks)).reshape(n, x.shape[0])

        # The ELBO is the mean log weight of the same k draws: one chain in the program, not two.
        iw, elbo = importance_weighted(log_weights, rng, iw_samples, iw_chunk)
        return {'log_prob': iw, 'iw': iw, 'elbo': elbo}

    def sample(variables, rng, num):
        keys = jax.random.split(rng, num_layers + 1)
        z = D.Logistic(jnp.zeros((num, *latent)), jnp.zeros((num, *latent))).sample(keys[-1])
        for layer in range(num_layers - 1, 0, -1):
            z = call(variables, BitSwapNet.prior, layer, z).sample(keys[layer])
        return call(variables, BitSwapNet.likelihood, z).sample(keys[0])

    pieces = ChainPieces(net, levels, latent, num_layers, params_of)
    return Family(init=init, loss=loss, sample=sample, log_prob=log_prob, pieces=pieces)


class ChainPieces:
    """`models.core.pieces.LatentVariable` of the hierarchy: the Markov chain Bit-Swap codes
    with. `posterior(variables, 1, x)` takes the image in integer levels."""

    def __init__(self, net, levels, latent, num_layers, params_of):
        self.latent_shapes = (latent,) * num_layers
        self._net, self._levels, self._params_of = net, levels, params_of

    def _apply(self, variables, method, *args):
        return self._net.apply({'params': self._params_of(variables)}, *args, method=method)

    def _check(self, layer):
        if not 1 <= layer <= len(self.latent_shapes):
            raise ValueError(f'bitswap: layers are 1..{len(self.latent_shapes)}, got {layer}')

    def prior(self, variables, layer, above):
        self._check(layer)
        if layer == len(self.latent_shapes):
            shape = self.latent_shapes[-1]
            return D.Logistic(jnp.zeros(shape), jnp.zeros(shape))
        return self._apply(variables, BitSwapNet.prior, layer, above)

    def posterior(self, variables, layer, below):
        self._check(layer)
        below = to_unit(below, self._levels) if layer == 1 else below
        return self._apply(variables, BitSwapNet.posterior, layer, below)

    def likelihood(self, variables, z1):
        return self._apply(variables, BitSwapNet.likelihood, z1)


@takes_keywords_of(model)
def make(data_spec, **kw) -> Family:
    return model(data_spec, **kw)
