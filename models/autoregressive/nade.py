"""NADE: the Neural Autoregressive Distribution Estimator (Larochelle & Murray 2011, AISTATS,
"The Neural Autoregressive Distribution Estimator").

p(x_d = 1 | x_<d) = sigmoid(b_d + V_d . h_d), h_d = sigmoid(c + W_<d x_<d): one hidden layer whose
weights are shared between the D conditionals, so the pre-activation a_d = c + sum_{d'<d} W_d' x_d'
is a running sum. Likelihood is one cumulative sum over dimensions; sampling updates the running
sum, O(H) per dimension, so NADE is its own cached generator. Raster order.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.autoregressive.binary import BinaryData, bernoulli_log_prob, marginal_logits
from models.core.family import Family
from models.core.metrics import bits_per_dim


def logits(params, bits):
    """[B, D] inputs -> [B, D] logits of p(x_d = 1 | x_<d)."""
    p = params['model']
    contributions = bits[:, :, None] * p['w'][None]  # [B, D, H]
    # Exclusive running sum by shifting (not cumsum - x_d W_d, whose rounding depends on x_d).
    pre = p['c'] + jnp.pad(jnp.cumsum(contributions[:, :-1], axis=1), ((0, 0), (1, 0), (0, 0)))
    return p['b'] + jnp.einsum('bdh,dh->bd', jax.nn.sigmoid(pre), p['v'])


def model(data_spec, hidden: int = 500, binarize_at: int | None = None):
    data = BinaryData(data_spec, binarize_at, 'nade')
    if hidden < 1:
        raise ValueError(f'nade: hidden must be positive, got {hidden}')
    d = data.num_dims

    def init(rng, batch):
        kw, kv = jax.random.split(rng)
        return {
            'model': {
                'w': jax.random.normal(kw, (d, hidden)) / np.sqrt(d),
                'c': jnp.zeros((hidden,)),
                'v': jax.random.normal(kv, (d, hidden)) / np.sqrt(hidden),
                'b': marginal_logits(data.bits(batch)),
            }
        }

    def log_prob(params, batch):
        data.check(batch, 'nade.log_prob')
        bits = data.bits(batch)
        return bernoulli_log_prob(logits(params, bits), bits)

    def loss(params, batch, rng):
        del rng
        bits = data.bits(batch)
        nll = -bernoulli_log_prob(logits(params, bits), bits).mean()
        return {'model': nll / d}, {'bpd/total': bits_per_dim(nll, d)}

    def sample(params, rng, num):
        p = params['model']

        def body(t, carry):
            bits, pre = carry  # pre: [num, H] = c + sum_{d'<t} W_d' x_d'
            logit = p['b'][t] + jax.nn.sigmoid(pre) @ p['v'][t]
            u = jax.random.uniform(jax.random.fold_in(rng, t), (num,))
            value = (u < jax.nn.sigmoid(logit)).astype(jnp.float32)
            return bits.at[:, t].set(value), pre + value[:, None] * p['w'][t]

        start = (jnp.zeros((num, d)), jnp.broadcast_to(p['c'], (num, hidden)))
        bits, _ = jax.lax.fori_loop(0, d, body, start)
        return data.to_levels(bits)

    return Family(init=init, loss=loss, sample=sample, log_prob=log_prob)


def make(data_spec, **kw) -> Family:
    return model(data_spec, **kw)
