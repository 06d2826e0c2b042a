"""The ResNet VAE with bidirectional (top-down) inference and one inverse-autoregressive-flow step
per stochastic layer (Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling 2016,
arXiv:1606.04934, section 6 and appendix C; the CIFAR-10 model of openai/iaf's tf_train.py).

Network. x (levels mapped to [-1, 1]) -> 5x5 stride-2 conv -> `depth` levels of `num_blocks`
stochastic layers each (the first block of every level after the first halves the resolution);
a learned vector h_top, tiled over the top resolution, starts the down pass, which runs the layers
in reverse and ends in a 5x5 stride-2 transposed conv to the image's mean. All convs are weight-
normalised with data-dependent init (output std 0.1); every residual branch is added with scale
0.1.

One stochastic layer, z [B, h, w, z_size]:
  up pass (deterministic, x only):  ELU -> conv -> (q mean, q log-scale, up context, branch);
                                    branch -> ELU -> conv, added to the input.
  down pass:  ELU -> conv -> (prior mean and log-scale, posterior mean and log-scale deltas, down
              context, deterministic branch). The posterior is N(r_mean + q_mean, exp(r_logsd +
              q_logsd)): the down (prior-side) and up (data-side) halves add. A draw z0 of it
              goes through one conv IAF step (models/vae/conv_iaf.py) with context up + down;
              concat(z, branch) -> ELU -> conv (transposed at a down-sampling block), added to
              the input. Generation draws z from the prior and skips the flow.
  KL:         single-sample log q(z | x, z_above) - log p(z | z_above) per element.

p(x | z) is a discretised logistic per sub-pixel with the decoder's mean and ONE global learned
log-scale (`models.vae.distributions.DiscretizedLogistic`, whose end bins take the tails).

Objective: -log p(x | z) + beta * KL_free, where KL_free floors each latent channel's KL of each
layer (summed over space, averaged over the batch) at `kl_min` nats (free bits; the training
objective only) and beta warms up over `kl_warmup_steps`. Reported: `bpd/recon`, `bpd/kl` (raw KL)
and, at test time, the importance-weighted bound with `iw_samples` draws in chunks of `iw_chunk`
(`test/nll`, `test/iw_nll`) beside the ELBO (`test/elbo_nll`), estimated as the mean log-weight of
the same k draws (the expectation of a one-sample ELBO, with less noise, and no second pass to
compile). The up pass runs once per test batch; only the down pass runs per sample.

`iaf=False` gives the same model with the diagonal posterior (no context channels), for
comparison.

Pieces: none. `LatentVariable` describes a Markov chain of latent layers, each posterior
q(z_i | z_{i-1}) a product of per-element distributions (the one-layer VAE, Bit-Swap). Here every
layer's posterior depends on x through the whole up pass AND on every layer above through the
down pass, and with IAF it is autoregressive within the layer; neither fits those pieces, and a
bits-back coder for this model would need its own interface.

Differences from openai/iaf (also listed in the CIFAR-10 config): our discretised logistic
puts the tails into the end bins (the reference adds 1e-7 inside a log and clips the mean), the
data are scaled to [-1, 1] (the reference uses [-0.5, 0.5]; the learned scale absorbs it), the
data-dependent init runs on the training (posterior) pass rather than a prior-sampling pass, and
the causal 3x3 IAF kernels are stored cropped to their two live rows.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models.autoregressive.logistic_mixture import to_unit
from models.core.family import Family, Variables, takes_keywords_of
from models.core.inputs import BadInputError, check_batch
from models.core.metrics import bits_per_dim
from models.vae import distributions as D
from models.vae.bounds import free_bits_per_channel, importance_weighted, kl_weight
from models.vae.conv_iaf import ConvIAFStep
from models.vae.wn_conv import WNConv

RESIDUAL_SCALE = 0.1


class UpStats(NamedTuple):
    """What the up pass leaves for a layer's posterior: [B, h, w, z_size] twice and the context
    [B, h, w, h_size] (width 0 without IAF)."""

    mean: jax.Array
    log_scale: jax.Array
    context: jax.Array


def _split(a: jax.Array, sizes: list[int]) -> list[jax.Array]:
    """The channels cut into pieces of `sizes` and the rest."""
    return jnp.split(a, np.cumsum(sizes).tolist(), axis=-1)


def free_bits_objective(kls: list[jax.Array], kl_min: float) -> jax.Array:
    """The KL term of the training objective: each layer's KL [B, h, w, C] summed over space per
    latent channel, averaged over the batch, floored at `kl_min` nats, summed over channels and
    layers (openai/iaf's free bits; a floored channel gets no gradient from this term)."""
    return sum(free_bits_per_channel(kl, kl_min) for kl in kls)


class StochasticLayer(nn.Module):
    h_size: int
    z_size: int
    downsample: bool
    iaf: bool

    def setup(self):
        stride = 2 if self.downsample else 1
        z, h, c = self.z_size, self.h_size, self.context_size
        self.up_in = WNConv(2 * z + c + h, stride=stride)
        self.up_out = WNConv(h)
        self.down_in = WNConv(4 * z + c + h)
        self.down_out = WNConv(h, stride=stride, transpose=self.downsample)
        if self.iaf:
            self.flow = ConvIAFStep(h)

    @property
    def context_size(self) -> int:
        return self.h_size if self.iaf else 0

    def up(self, h: jax.Array) -> tuple[jax.Array, UpStats]:
        z, c = self.z_size, self.context_size
        q_mean, q_log_scale, context, branch = _split(self.up_in(jax.nn.elu(h)), [z, z, c])
        branch = self.up_out(jax.nn.elu(branch))
        if self.downsample:
            h = h[:, ::2, ::2]  # nearest-neighbour halving
        return h + RESIDUAL_SCALE * branch, UpStats(q_mean, q_log_scale, context)

    def down(
        self, h: jax.Array, up: UpStats | None, key: jax.Array
    ) -> tuple[jax.Array, jax.Array | None]:
        """-> (h for the layer below, KL per element [B, h, w, z_size] or None when generating)."""
        z_size, c = self.z_size, self.context_size
        parts = _split(self.down_in(jax.nn.elu(h)), [z_size, z_size, z_size, z_size, c])
        p_mean, p_log_scale, r_mean, r_log_scale, context, branch = parts
        prior = D.DiagonalGaussian(p_mean, p_log_scale)
        eps = jax.random.normal(key, p_mean.shape)
        if up is None:
            z, kl = p_mean + jnp.exp(p_log_scale) * eps, None
        else:
            posterior = D.DiagonalGaussian(r_mean + up.mean, r_log_scale + up.log_scale)
            z = posterior.mean + jnp.exp(posterior.log_scale) * eps
            log_q = posterior.log_prob(z)
            if self.iaf:
                z, log_det = self.flow(z, up.context + context)
                log_q = log_q - log_det
            kl = log_q - prior.log_prob(z)
        branch = self.down_out(jax.nn.elu(jnp.concatenate([z, branch], axis=-1)))
        if self.downsample:
            h = jnp.repeat(jnp.repeat(h, 2, axis=1), 2, axis=2)
        return h + RESIDUAL_SCALE * branch, kl


class ResNetVAENet(nn.Module):
    image_shape: tuple[int, int, int]
    depth: int
    num_blocks: int
    h_size: int
    z_size: int
    iaf: bool

    def setup(self):
        self.x_enc = WNConv(self.h_size, (5, 5), stride=2)
        self.layers = [
            StochasticLayer(self.h_size, self.z_size, i > 0 and j == 0, self.iaf)
            for i in range(self.depth)
            for j in range(self.num_blocks)
        ]
        self.h_top = self.param('h_top', nn.initializers.zeros, (self.h_size,))
        self.x_dec = WNConv(self.image_shape[-1], (5, 5), stride=2, transpose=True)
        self.log_scale = self.param('likelihood_log_scale', nn.initializers.zeros, ())

    def up(self, x: jax.Array) -> list[UpStats]:
        """x [B, H, W, C] in [-1, 1] -> every layer's UpStats, bottom first."""
        h = self.x_enc(x)
        stats = []
        for layer in self.layers:
            h, s = layer.up(h)
            stats.append(s)
        return stats

    def down(self, stats: list[UpStats] | None, key: jax.Array, num: int):
        """Top-down pass over `num` rows, posterior draws given `stats` (prior draws without).
        -> (decoder mean [num, H, W, C], global log-scale, per-layer KL bottom first)."""
        scale = 2**self.depth
        top = (num, self.image_shape[0] // scale, self.image_shape[1] // scale, self.h_size)
        h = jnp.broadcast_to(self.h_top, top)
        kls = [None] * len(self.layers)
        for i in reversed(range(len(self.layers))):
            up = None if stats is None else stats[i]
            h, kls[i] = self.layers[i].down(h, up, jax.random.fold_in(key, i))
        return self.x_dec(jax.nn.elu(h)), self.log_scale, kls

    def __call__(self, x: jax.Array, key: jax.Array):
        return self.down(self.up(x), key, x.shape[0])


def model(
    data_spec,
    depth: int = 1,
    num_blocks: int = 2,
    h_size: int = 32,
    z_size: int = 8,
    iaf: bool = True,
    kl_min: float = 0.0,
    kl_warmup_steps: int = 0,
    iw_samples: int = 100,
    iw_chunk: int = 25,
):
    """Returns (family, net): the family and the Flax network tests reach into."""
    shape = tuple(data_spec.shape)
    levels = data_spec.num_levels
    if len(shape) != 3 or levels is None:
        raise ValueError(
            f'resnet_vae: needs images [H, W, C] of discrete levels; dataset {data_spec.name!r} '
            f'has shape {shape} and levels {levels}'
        )
    if depth < 1 or num_blocks < 1 or h_size < 1 or z_size < 1:
        raise ValueError(
            f'resnet_vae: depth {depth}, num_blocks {num_blocks}, h_size {h_size} and z_size '
            f'{z_size} must all be >= 1'
        )
    scale = 2**depth
    if shape[0] % scale or shape[1] % scale:
        raise ValueError(
            f'resnet_vae: the stride-2 input conv and {depth - 1} down-sampling level(s) shrink '
            f'the image {scale}x, so its size {shape[:2]} must be divisible by {scale}'
        )
    if kl_min < 0 or kl_warmup_steps < 0:
        raise ValueError(f'resnet_vae: kl_min {kl_min} and kl_warmup_steps must be >= 0')
    if iw_samples < 1 or iw_chunk < 1:
        raise ValueError(
            f'resnet_vae: iw_samples {iw_samples} and iw_chunk {iw_chunk} must be >= 1'
        )
    net = ResNetVAENet(shape, depth, num_blocks, h_size, z_size, bool(iaf))
    num_dims = int(np.prod(shape))
    key_name = data_spec.key

    def apply(variables, *args, method):
        params = (
            variables.params['model'] if isinstance(variables, Variables) else variables['model']
        )
        return net.apply({'params': params}, *args, method=method)

    def images(batch, where):
        """The batch's images and their [-1, 1] network input; a wrong shape is refused while
        tracing, before anything compiles (levels are checked on the host by the loop)."""
        x = batch[key_name]
        if tuple(x.shape[1:]) != shape:
            raise BadInputError(
                f'{where}: {key_name!r} has per-example shape {tuple(x.shape[1:])}, expected '
                f'{shape} for dataset {data_spec.name!r}'
            )
        return x, to_unit(x, levels)

    def log_likelihood(mean, log_scale, x):
        dist = D.DiscretizedLogistic(mean, jnp.broadcast_to(log_scale, mean.shape), levels)
        return D.sum_except_batch(dist.log_prob(x))

    def posterior_pass(variables, stats, x, key, n):
        """n posterior draws per example: log p(x | z) [n B] and the per-layer KLs [n B, ...]."""
        tile = lambda a: jnp.broadcast_to(a, (n, *a.shape)).reshape(n * a.shape[0], *a.shape[1:])  # noqa: E731
        mean, log_scale, kls = apply(
            variables, jax.tree.map(tile, stats), key, n * x.shape[0], method=ResNetVAENet.down
        )
        return log_likelihood(mean, log_scale, tile(x)), kls

    def init(rng, batch):
        _, x_in = images(batch, 'resnet_vae.init')
        param_key, noise_key = jax.random.split(rng)
        # The parameters are drawn through an 'rbg' key seeded from the init key: XLA:CPU
        # compiles a threefry stream per parameter slowly (it took a tiny model's init from
        # about 8 to 13 s on the loaded 2-core machine); RngBitGenerator compiles at once.
        param_key = jax.random.key(jax.random.bits(param_key, dtype=jnp.uint32), impl='rbg')
        return {'model': net.init(param_key, x_in, noise_key)['params']}

    def loss(variables, batch, ctx):
        x, x_in = images(batch, 'resnet_vae.loss')
        stats = apply(variables, x_in, method=ResNetVAENet.up)
        log_px, kls = posterior_pass(variables, stats, x, ctx.rng, 1)
        recon = -log_px
        kl_objective = free_bits_objective(kls, kl_min)
        kl_total = sum(D.sum_except_batch(kl) for kl in kls)
        beta = kl_weight(ctx.step, kl_warmup_steps)
        metrics = {
            'bpd/recon': bits_per_dim(recon.mean(), num_dims),
            'bpd/kl': bits_per_dim(kl_total.mean(), num_dims),
            'bpd/total': bits_per_dim((recon + kl_total).mean(), num_dims),
            'kl_weight': beta,
        }
        return {'model': (recon.mean() + beta * kl_objective) / num_dims}, metrics, variables.state

    def log_weights_given(variables, stats, x):
        def log_weights(key, n):
            log_px, kls = posterior_pass(variables, stats, x, key, n)
            log_w = log_px - sum(D.sum_except_batch(kl) for kl in kls)
            return log_w.reshape(n, x.shape[0])

        return log_weights

    def log_prob(variables, batch, rng):
        if not isinstance(batch[key_name], jax.core.Tracer):
            check_batch({key_name: np.asarray(batch[key_name])}, data_spec, 'resnet_vae.log_prob')
        x, x_in = images(batch, 'resnet_vae.log_prob')
        stats = apply(variables, x_in, method=ResNetVAENet.up)  # once; each draw runs down only
        log_weights = log_weights_given(variables, stats, x)
        # The ELBO as the mean log-weight of the same k draws: no second down pass to compile.
        iw, elbo = importance_weighted(log_weights, rng, iw_samples, iw_chunk)
        return {'log_prob': iw, 'iw': iw, 'elbo': elbo}

    def sample(variables, rng, num):
        z_key, x_key = jax.random.split(rng)
        mean, log_scale, _ = apply(variables, None, z_key, num, method=ResNetVAENet.down)
        # A continuous logistic draw rounded to its bin is a draw of the discretised logistic
        # (the end bins take the tails), without a table over every level.
        y = D.Logistic(mean, jnp.broadcast_to(log_scale, mean.shape)).sample(x_key)
        return jnp.clip(jnp.round((y + 1.0) * (0.5 * (levels - 1))), 0, levels - 1).astype(
            jnp.int32
        )

    family = Family(init=init, loss=loss, sample=sample, log_prob=log_prob, pieces=None)
    return family, net


@takes_keywords_of(model)
def make(data_spec, **kw) -> Family:
    return model(data_spec, **kw)[0]
