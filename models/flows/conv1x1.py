"""Invertible 1x1 convolution, LU-parametrised (Glow, Kingma & Dhariwal 2018, arXiv:1807.03039,
section 3.2): W = P L (U + diag(sign * exp(log_s))). The log-determinant is H W sum(log_s), O(C)
instead of an O(C^3) determinant every step; P and sign are fixed and kept in the state."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from models.flows.actnorm import positions
from models.flows.bijector import EVAL, Bijector


class Conv1x1(Bijector):
    def init(self, rng, x, ctx=EVAL):
        c = x.shape[-1]
        q, _ = jnp.linalg.qr(jax.random.normal(rng, (c, c)))  # a random rotation
        p, lower, upper = jax.scipy.linalg.lu(q)
        diag = jnp.diag(upper)
        params = {
            'lower': jnp.tril(lower, -1),
            'upper': jnp.triu(upper, 1),
            'log_s': jnp.log(jnp.abs(diag)),
        }
        state = {'perm': p, 'sign': jnp.sign(diag)}
        y, _, _ = self.forward(params, state, x, ctx)
        return params, state, y

    def weight(self, params, state):
        c = params['log_s'].shape[0]
        lower = jnp.tril(params['lower'], -1) + jnp.eye(c)
        upper = jnp.triu(params['upper'], 1) + jnp.diag(state['sign'] * jnp.exp(params['log_s']))
        return state['perm'] @ lower @ upper  # [C_in, C_out]

    def forward(self, params, state, x, ctx=EVAL):
        y = x @ self.weight(params, state)
        logdet = positions(x) * jnp.sum(params['log_s'])
        return y, jnp.full(x.shape[0], logdet, x.dtype), state

    def inverse(self, params, state, y, ctx=EVAL):
        return y @ jnp.linalg.inv(self.weight(params, state))
