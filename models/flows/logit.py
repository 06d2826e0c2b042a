"""Logit preprocessing of data in [0, 1], as in RealNVP (Dinh et al. 2016, arXiv:1605.08803,
section 4.1): y = logit(alpha + (1 - 2 alpha) x), which keeps y finite at the edges of [0, 1]."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from models.flows.bijector import EVAL, Bijector, sum_except_batch


class Logit(Bijector):
    def __init__(self, alpha: float = 0.05):
        if not 0.0 <= alpha < 0.5:
            raise ValueError(f'Logit alpha must be in [0, 0.5), got {alpha}')
        self.alpha = float(alpha)

    def forward(self, params, state, x, ctx=EVAL):
        p = self.alpha + (1.0 - 2.0 * self.alpha) * x
        y = jnp.log(p) - jnp.log1p(-p)
        logdet = jnp.log1p(-2.0 * self.alpha) - jnp.log(p) - jnp.log1p(-p)
        return y, sum_except_batch(logdet), state

    def inverse(self, params, state, y, ctx=EVAL):
        return (jax.nn.sigmoid(y) - self.alpha) / (1.0 - 2.0 * self.alpha)
