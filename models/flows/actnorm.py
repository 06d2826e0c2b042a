"""Activation normalisation with data-dependent init (Glow, Kingma & Dhariwal 2018,
arXiv:1807.03039, section 3.1): a per-channel affine map whose initial values make the first
batch's outputs zero-mean and unit-variance per channel."""

from __future__ import annotations

import jax.numpy as jnp

from models.flows.bijector import EVAL, Bijector


def positions(x) -> int:
    """How many times each channel occurs in one example (H*W for images, 1 for vectors)."""
    n = 1
    for s in x.shape[1:-1]:
        n *= s
    return n


class ActNorm(Bijector):
    def __init__(self, eps: float = 1e-6):
        self.eps = eps

    def init(self, rng, x, ctx=EVAL):
        axes = tuple(range(x.ndim - 1))
        mean = jnp.mean(x, axis=axes)
        std = jnp.std(x, axis=axes)
        params = {'bias': -mean, 'log_scale': -jnp.log(std + self.eps)}
        y, _, _ = self.forward(params, {}, x, ctx)
        return params, {}, y

    def forward(self, params, state, x, ctx=EVAL):
        y = (x + params['bias']) * jnp.exp(params['log_scale'])
        logdet = positions(x) * jnp.sum(params['log_scale'])
        return y, jnp.full(x.shape[0], logdet, x.dtype), state

    def inverse(self, params, state, y, ctx=EVAL):
        return y * jnp.exp(-params['log_scale']) - params['bias']
