"""Batch normalisation as a bijector (RealNVP, Dinh et al. 2016, arXiv:1605.08803, section 3.7).

Training normalises with the batch's statistics (treated, as in the paper, as the layer's
parameters for the log-determinant) and updates running averages; evaluation and sampling use
the running averages, so log p(x) of one example does not depend on the rest of its batch. The
running averages are non-trainable state (the trainer's loop state) and survive checkpoints.
"""

from __future__ import annotations

import jax.numpy as jnp

from models.flows.actnorm import positions
from models.flows.bijector import EVAL, Bijector


class BatchNorm(Bijector):
    def __init__(self, momentum: float = 0.95, eps: float = 1e-4):
        self.momentum = momentum
        self.eps = eps

    def init(self, rng, x, ctx=EVAL):
        c = x.shape[-1]
        axes = tuple(range(x.ndim - 1))
        params = {'log_gamma': jnp.zeros(c), 'beta': jnp.zeros(c)}
        state = {'mean': jnp.mean(x, axis=axes), 'var': jnp.var(x, axis=axes)}
        y, _, _ = self.forward(params, state, x, ctx._replace(train=False))
        return params, state, y

    def forward(self, params, state, x, ctx=EVAL):
        if ctx.train:
            axes = tuple(range(x.ndim - 1))
            mean, var = jnp.mean(x, axis=axes), jnp.var(x, axis=axes)
            m = self.momentum
            new_state = {
                'mean': m * state['mean'] + (1 - m) * mean,
                'var': m * state['var'] + (1 - m) * var,
            }
        else:
            mean, var, new_state = state['mean'], state['var'], state
        log_scale = params['log_gamma'] - 0.5 * jnp.log(var + self.eps)
        y = (x - mean) * jnp.exp(log_scale) + params['beta']
        logdet = positions(x) * jnp.sum(log_scale)
        return y, jnp.full(x.shape[0], logdet, x.dtype), new_state

    def inverse(self, params, state, y, ctx=EVAL):
        log_scale = params['log_gamma'] - 0.5 * jnp.log(state['var'] + self.eps)
        return (y - params['beta']) * jnp.exp(-log_scale) + state['mean']
