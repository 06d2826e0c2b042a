"""Coupling layers: half of the input conditions an elementwise invertible map of the other half.

- additive (NICE, Dinh et al. 2014, arXiv:1410.8516): y_b = x_b + t(x_a), volume-preserving;
- affine (RealNVP, arXiv:1605.08803): y_b = x_b exp(s(x_a)) + t(x_a), s = scale * tanh(.);
- logistic-mixture CDF (Flow++, arXiv:1902.00275): see mixture_cdf.py.

Masks: 'checkerboard' over the spatial positions of [H, W, C] images, 'channel' (first or second
half of the channels, a real split so the network only sees and produces half), and 'alternate'
(even or odd entries of a flat vector). `parity` swaps which half is transformed.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.flows import mixture_cdf
from models.flows.bijector import EVAL, Bijector, Ctx, sum_except_batch

MASKS = ('checkerboard', 'channel', 'alternate')


class Additive:
    num_params = 1
    has_scale = False

    def forward(self, x, h, rescale):
        return x + h[..., 0], jnp.zeros_like(x)

    def inverse(self, y, h, rescale):
        return y - h[..., 0]


class Affine:
    num_params = 2
    has_scale = True

    def forward(self, x, h, rescale):
        log_s = rescale * jnp.tanh(h[..., 0])
        return x * jnp.exp(log_s) + h[..., 1], log_s

    def inverse(self, y, h, rescale):
        log_s = rescale * jnp.tanh(h[..., 0])
        return (y - h[..., 1]) * jnp.exp(-log_s)


class MixtureCDF:
    has_scale = True

    def __init__(self, components: int = 32):
        self.components = components
        self.num_params = 2 + 3 * components

    def forward(self, x, h, rescale):
        return mixture_cdf.forward(x, h, self.components, rescale)

    def inverse(self, y, h, rescale):
        return mixture_cdf.inverse(y, h, self.components, rescale)


def checkerboard(h: int, w: int, parity: int) -> jax.Array:
    """[H, W, 1] with 1 where the value is kept (conditions the network)."""
    i, j = jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing='ij')
    return ((i + j) % 2 == parity).astype(jnp.float32)[..., None]


class Coupling(Bijector):
    def __init__(
        self,
        mask: str,
        parity: int,
        transform,
        make_net: Callable[[int], nn.Module],
    ):
        if mask not in MASKS:
            raise ValueError(f'coupling mask {mask!r}; valid: {list(MASKS)}')
        self.mask, self.parity, self.transform = mask, parity, transform
        self.make_net = make_net

    # -- splitting -------------------------------------------------------------------------------

    def _mask_array(self, x):
        if self.mask == 'checkerboard':
            return checkerboard(x.shape[1], x.shape[2], self.parity)
        return (jnp.arange(x.shape[-1]) % 2 == self.parity).astype(jnp.float32)

    def _split(self, x):
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
        return (b, a) if self.parity else (a, b)

    def _merge(self, kept, changed):
        parts = (changed, kept) if self.parity else (kept, changed)
        return jnp.concatenate(parts, axis=-1)

    def _out_channels(self, x):
        c = x.shape[-1] // 2 if self.mask == 'channel' else x.shape[-1]
        return c, c * self.transform.num_params

    def _net_input(self, x):
        if self.mask == 'channel':
            kept, changed = self._split(x)
            return kept, changed, None
        m = self._mask_array(x)
        return x * m, x, m

    def _h(self, params, kept, changed, ctx: Ctx):
        net = self.make_net(changed.shape[-1] * self.transform.num_params)
        deterministic = not (ctx.train and ctx.rng is not None)
        rngs = {} if deterministic else {'dropout': ctx.rng}
        h = net.apply({'params': params['net']}, kept, ctx.cond, deterministic, rngs=rngs)
        return h.reshape(*changed.shape, self.transform.num_params)

    # -- the bijector ----------------------------------------------------------------------------

    def init(self, rng, x, ctx=EVAL):
        kept, changed, m = self._net_input(x)
        c, out = self._out_channels(x)
        # init_with_output: the network runs once on the init batch, both for its data-dependent
        # init and for this layer's output (which initialises the next layer).
        h, variables = self.make_net(out).init_with_output(
            {'params': rng, 'dropout': rng}, kept, ctx.cond, True
        )
        params = {'net': variables['params']}
        if self.transform.has_scale:
            params['rescale'] = jnp.ones(c)
        h = h.reshape(*changed.shape, self.transform.num_params)
        return params, {}, self._apply(params, x, kept, changed, m, h)[0]

    def forward(self, params, state, x, ctx=EVAL):
        kept, changed, m = self._net_input(x)
        y, logdet = self._apply(params, x, kept, changed, m, self._h(params, kept, changed, ctx))
        return y, logdet, state

    def _apply(self, params, x, kept, changed, m, h):
        y, logdet = self.transform.forward(changed, h, params.get('rescale'))
        if m is None:
            return self._merge(kept, y), sum_except_batch(logdet)
        # where(), not a product with the mask: a kept position's discarded value may be inf.
        keep = m > 0
        return jnp.where(keep, x, y), sum_except_batch(jnp.where(keep, 0.0, logdet))

    def inverse(self, params, state, y, ctx=EVAL):
        kept, changed, m = self._net_input(y)
        h = self._h(params, kept, changed, ctx._replace(train=False))
        x = self.transform.inverse(changed, h, params.get('rescale'))
        if m is None:
            return self._merge(kept, x)
        return jnp.where(m > 0, y, x)

    def check(self, shape):
        if self.mask == 'checkerboard' and (len(shape) != 3 or shape[0] * shape[1] < 2):
            raise ValueError(f'checkerboard coupling needs an [H, W, C] image, got {tuple(shape)}')
        if self.mask == 'channel' and shape[-1] % 2:
            raise ValueError(
                f'channel coupling splits the channels in half and needs an even number; got '
                f'shape {tuple(shape)}. Use checkerboard masks here, or squeeze first.'
            )
        if self.mask == 'alternate' and (len(shape) != 1 or shape[0] < 2):
            raise ValueError(f'alternate coupling needs a vector of length >= 2, got {shape}')
        return tuple(shape)
