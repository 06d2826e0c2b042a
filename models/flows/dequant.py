"""Dequantisation: from discrete levels x to continuous y = (x + u) / K in [0, 1)^D.

Uniform (RealNVP, NICE): u ~ U[0, 1)^D, and log p(x) >= E_u[log p(y)] - D log K.
Variational (Flow++, Ho et al. 2019, arXiv:1902.00275, section 3.1): u ~ q(u | x), a conditional
flow trained jointly, and log p(x) >= E_q[log p(y) - log q(u | x)] - D log K. Here
u = sigmoid(f(eps; x)), eps ~ N(0, I), f a chain of mixture-CDF couplings whose networks also see
features of x, so log q(u | x) = log N(eps) - log|det df/deps| - sum log sigmoid'(f(eps)).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.flows.bijector import Bijector, Ctx, sum_except_batch

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def normal_log_prob(z):
    return sum_except_batch(-0.5 * z * z - HALF_LOG_2PI)


def centred(x, num_levels: int):
    """Levels -> [-0.5, 0.5], the input of the conditioning network."""
    return x.astype(jnp.float32) / (num_levels - 1) - 0.5


class Uniform:
    """u ~ U[0, 1)^D; log q(u | x) = 0."""

    def check(self, shape):
        return shape

    def init(self, rng, x, num_levels):
        return {}, {}

    def sample(self, params, state, rng, x, num_levels, ctx: Ctx):
        return jax.random.uniform(rng, x.shape), jnp.zeros(x.shape[0]), state


class Variational:
    """u ~ q(u | x) by a conditional flow; `embed` maps centred x to conditioning features."""

    def __init__(self, flow: Bijector, embed: nn.Module):
        self.flow, self.embed = flow, embed

    def check(self, shape):
        return self.flow.check(shape)

    def _cond(self, params, x, num_levels, ctx: Ctx):
        deterministic = not (ctx.train and ctx.rng is not None)
        rngs = {} if deterministic else {'dropout': jax.random.fold_in(ctx.rng, 1)}
        return self.embed.apply(
            {'params': params['embed']}, centred(x, num_levels), None, deterministic, rngs=rngs
        )

    def init(self, rng, x, num_levels):
        k_embed, k_flow, k_eps = jax.random.split(rng, 3)
        embed = self.embed.init(
            {'params': k_embed, 'dropout': k_embed}, centred(x, num_levels), None, True
        )['params']
        cond = self._cond({'embed': embed}, x, num_levels, Ctx())
        eps = jax.random.normal(k_eps, x.shape)
        flow, state, _ = self.flow.init(k_flow, eps, Ctx(cond=cond))
        return {'embed': embed, 'flow': flow}, state

    def sample(self, params, state, rng, x, num_levels, ctx: Ctx):
        """(u [B, ...] in (0, 1), log q(u | x) [B], new flow state)."""
        eps = jax.random.normal(rng, x.shape)
        cond = self._cond(params, x, num_levels, ctx)
        flow_ctx = ctx._replace(cond=cond, rng=None if ctx.rng is None else ctx.fold(2).rng)
        v, logdet, state = self.flow.forward(params['flow'], state, eps, flow_ctx)
        log_sigmoid_grad = sum_except_batch(jax.nn.log_sigmoid(v) + jax.nn.log_sigmoid(-v))
        log_q = normal_log_prob(eps) - logdet - log_sigmoid_grad
        return jax.nn.sigmoid(v), log_q, state
