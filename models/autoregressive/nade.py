"""NADE: the Neural Autoregressive Distribution Estimator (Larochelle & Murray 2011, AISTATS,
"The Neural Autoregressive Distribution Estimator").

p(x_d = 1 | x_<d) = sigmoid(b_d + V_d . h_d), h_d = sigmoid(c + W_<d x_<d): one hidden layer whose
weights are shared between the D conditionals, so the pre-activation a_d = c + sum_{d'<d} W_d' x_d'
is a running sum. Likelihood is one cumulative sum over dimensions; sampling updates the running
sum, O(H) per dimension, so NADE is its own cached generator: the decode scan of its typed pieces,
which sampling runs with a draw plugged in. Raster order.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.autoregressive.binary import (
    BinaryData,
    bernoulli_log_prob,
    binary_log_probs,
    marginal_logits,
)
from models.autoregressive.decoding import Pieces, draw, model_params, unchanged_state
from models.core.family import Family, takes_keywords_of
from models.core.metrics import bits_per_dim


def logits(variables, bits):
    """[B, D] inputs -> [B, D] logits of p(x_d = 1 | x_<d)."""
    p = model_params(variables)
    contributions = bits[:, :, None] * p['w'][None]  # [B, D, H]
    # Exclusive running sum by shifting (not cumsum - x_d W_d, whose rounding depends on x_d).
    running = jnp.pad(jnp.cumsum(contributions[:, :-1], axis=1), ((0, 0), (1, 0), (0, 0)))
    return readout(p['b'], p['v'], p['c'] + running)


def readout(b, v, pre):
    """b_d + V_d . sigmoid(pre_d), written once for the full pass and the decode scan."""
    return b + jnp.einsum('...h,...h->...', jax.nn.sigmoid(pre), v)


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

    def log_prob(variables, batch, rng=None):
        del rng  # exact
        data.check(batch, 'nade.log_prob')
        bits = data.bits(batch)
        return bernoulli_log_prob(logits(variables, bits), bits)

    def loss(variables, batch, ctx):
        del ctx  # deterministic
        bits = data.bits(batch)
        nll = -bernoulli_log_prob(logits(variables, bits), bits).mean()
        metrics = {'bpd/total': bits_per_dim(nll, d)}
        return {'model': nll / d}, metrics, unchanged_state(variables)

    def conditionals(variables, batch):
        data.check(batch, 'nade.conditionals')
        bits = data.bits(batch)
        logp = binary_log_probs(logits(variables, bits))  # [B, D, 2]
        return logp.reshape(bits.shape[0], *data.shape, 2)

    def decode(variables, choose, carry, num, batch=None):
        """The running sum is NADE's cache: O(H) work per dimension."""
        del batch  # unconditional
        p = model_params(variables)

        def body(t, state):
            bits, running, carry = state  # running: [num, H] = sum_{d' < t} W_d' x_d'
            logit = readout(p['b'][t], p['v'][t], p['c'] + running)
            value, carry = choose(carry, binary_log_probs(logit), t.astype(jnp.int32))
            value = value.astype(jnp.float32)
            return bits.at[:, t].set(value), running + value[:, None] * p['w'][t], carry

        start = (jnp.zeros((num, d)), jnp.zeros((num, hidden)), carry)
        bits, _, carry = jax.lax.fori_loop(0, d, body, start)
        return bits.astype(jnp.int32).reshape(num, *data.shape), carry

    def sample(variables, rng, num):
        return data.to_levels(decode(variables, draw, rng, num)[0])

    pieces = Pieces(data.shape, 2, np.arange(d), conditionals, decode)
    return Family(init=init, loss=loss, sample=sample, log_prob=log_prob, pieces=pieces)


@takes_keywords_of(model)
def make(data_spec, **kw) -> Family:
    return model(data_spec, **kw)
