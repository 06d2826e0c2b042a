"""Squeeze / unsqueeze and the multi-scale factor-out of RealNVP (Dinh et al. 2016,
arXiv:1605.08803, section 3.6): half the channels leave the flow at each scale and the rest go on.

Every layer here is volume-preserving (a permutation), so its log-determinant is zero.
"""

from __future__ import annotations

import jax.numpy as jnp

from models.flows.bijector import EVAL, Bijector, Composite


def squeeze2(x):
    b, h, w, c = x.shape
    x = x.reshape(b, h // 2, 2, w // 2, 2, c)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, h // 2, w // 2, 4 * c)  # [B, H/2, W/2, 4C]


def unsqueeze2(x):
    b, h, w, c = x.shape
    x = x.reshape(b, h, w, 2, 2, c // 4)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, 2 * h, 2 * w, c // 4)  # [B, 2H, 2W, C/4]


def _zero(x):
    return jnp.zeros(x.shape[0], x.dtype)


class Squeeze(Bijector):
    """[H, W, C] -> [H/2, W/2, 4C]: each 2x2 spatial block becomes 4 channels."""

    def forward(self, params, state, x, ctx=EVAL):
        return squeeze2(x), _zero(x), state

    def inverse(self, params, state, y, ctx=EVAL):
        return unsqueeze2(y)

    def output_shape(self, shape):
        h, w, c = shape
        return (h // 2, w // 2, 4 * c)

    def check(self, shape):
        if len(shape) != 3 or shape[0] % 2 or shape[1] % 2:
            raise ValueError(
                f'Squeeze needs an [H, W, C] input with even H and W, got {tuple(shape)}: the '
                'image size must be divisible by 2 ** (number of squeezes before this one + 1)'
            )
        return self.output_shape(shape)


class Unsqueeze(Bijector):
    """[H, W, 4C] -> [2H, 2W, C], the inverse of Squeeze."""

    def forward(self, params, state, x, ctx=EVAL):
        return unsqueeze2(x), _zero(x), state

    def inverse(self, params, state, y, ctx=EVAL):
        return squeeze2(y)

    def output_shape(self, shape):
        h, w, c = shape
        return (2 * h, 2 * w, c // 4)

    def check(self, shape):
        if len(shape) != 3 or shape[2] % 4:
            raise ValueError(f'Unsqueeze needs channels divisible by 4, got {tuple(shape)}')
        return self.output_shape(shape)


class FactorOut(Composite):
    """The first half of the channels is final (it goes straight to the prior); `inner` transforms
    the second half and must give back its input shape. y = concat(x1, inner(x2))."""

    def __init__(self, inner: Bijector):
        self.inner = inner

    def _split(self, x):
        half = x.shape[-1] // 2
        return x[..., :half], x[..., half:]

    def init(self, rng, x, ctx=EVAL):
        kept, rest = self._split(x)
        params, state, rest = self.inner.init(rng, rest, ctx)
        return params, state, jnp.concatenate([kept, rest], axis=-1)

    def forward_layers(self, params, state, x, ctx=EVAL):
        kept, rest = self._split(x)
        rest, logdets, state = self.inner.forward_layers(params, state, rest, ctx)
        return jnp.concatenate([kept, rest], axis=-1), logdets, state

    def inverse(self, params, state, y, ctx=EVAL):
        kept, rest = self._split(y)
        return jnp.concatenate([kept, self.inner.inverse(params, state, rest, ctx)], axis=-1)

    def check(self, shape):
        if shape[-1] % 2:
            raise ValueError(
                f'FactorOut splits the channels in half and needs an even number, got shape '
                f'{tuple(shape)}'
            )
        half = (*shape[:-1], shape[-1] // 2)
        out = self.inner.check(half)
        if tuple(out) != tuple(half):
            raise ValueError(f'FactorOut: the inner flow maps {half} to {out}, not to itself')
        return tuple(shape)


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


class Flatten(Bijector):
    """[...] -> [D]: NICE treats an image as a vector."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = tuple(shape)

    def forward(self, params, state, x, ctx=EVAL):
        return x.reshape(x.shape[0], -1), _zero(x), state

    def inverse(self, params, state, y, ctx=EVAL):
        return y.reshape(y.shape[0], *self.shape)

    def output_shape(self, shape):
        return (_size(shape),)

    def check(self, shape):
        if tuple(shape) != self.shape:
            raise ValueError(f'Flatten was built for shape {self.shape}, got {tuple(shape)}')
        return self.output_shape(shape)


class Unflatten(Bijector):
    """[D] -> `shape`, the inverse of Flatten: gives a vector flow's latent the data's shape."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = tuple(shape)

    def forward(self, params, state, x, ctx=EVAL):
        return x.reshape(x.shape[0], *self.shape), _zero(x), state

    def inverse(self, params, state, y, ctx=EVAL):
        return y.reshape(y.shape[0], -1)

    def output_shape(self, shape):
        return self.shape

    def check(self, shape):
        if len(shape) != 1 or shape[0] != _size(self.shape):
            raise ValueError(
                f'Unflatten to {self.shape} needs a vector of {_size(self.shape)} entries, got '
                f'{tuple(shape)}'
            )
        return self.shape
