"""MADE: Masked Autoencoder for Distribution Estimation (Germain, Gregor, Murray & Larochelle 2015,
arXiv:1502.03509), with order-agnostic and connectivity-agnostic training.

Each unit gets a degree: inputs their rank in an ordering (1..D), hidden units a random integer
in [min degree below, D - 1]. A weight is kept when the unit above has degree >= the unit below
(hidden layers) or > it (output layer), so output d depends only on inputs earlier in the
ordering. With `num_masks` > 1 each training step draws one of `num_masks` fixed mask sets
(degrees redrawn for every set: connectivity-agnostic; orderings too with `order_agnostic`), and
`log_prob` is the ensemble over all of them, log (1/K) sum_k p_k(x), as in the paper's
"32 masks" results. Sampling draws each sample's mask set, then its dimensions in its order.
The typed pieces (`Family.pieces`) are those of one mask set (`coding_mask`): its conditionals
and a decode scan in its order, one full network pass per dimension.
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
from models.layers.masked import connectivity_masks, input_degrees, random_hidden_degrees


def mask_sets(
    num_dims: int, hidden: tuple[int, ...], num_masks: int, order_agnostic: bool, seed: int
):
    """Per mask set: the input ordering and the 0/1 masks of every layer, stacked over sets
    (degrees redrawn for every set: connectivity-agnostic)."""
    orders, layers = [], [[] for _ in range(len(hidden) + 1)]
    for k in range(num_masks):
        rs = np.random.RandomState(seed * 10007 + k)
        order = rs.permutation(num_dims) if order_agnostic else np.arange(num_dims)
        degrees_in = input_degrees(order)
        hidden_degrees = random_hidden_degrees(rs, degrees_in, hidden, num_dims)
        for layer, mask in enumerate(connectivity_masks(degrees_in, hidden_degrees, degrees_in)):
            layers[layer].append(mask)
        orders.append(order)
    return np.stack(orders), [np.stack(m) for m in layers]


def model(
    data_spec,
    hidden: tuple[int, ...] = (500,),
    num_masks: int = 1,
    order_agnostic: bool = False,
    binarize_at: int | None = None,
    mask_seed: int = 0,
    coding_mask: int = 0,
):
    """coding_mask: the mask set whose conditionals and order the family's `pieces` expose (a
    coder codes with one mask set; the ensemble `log_prob` is a mixture over all of them)."""
    data = BinaryData(data_spec, binarize_at, 'made')
    hidden = tuple(int(h) for h in hidden)
    if not hidden or min(hidden) < 1 or num_masks < 1:
        raise ValueError(f'made: hidden {hidden} and num_masks {num_masks} must be positive')
    if not 0 <= coding_mask < num_masks:
        raise ValueError(f'made: coding_mask must be in [0, {num_masks - 1}], got {coding_mask}')
    d = data.num_dims
    orders_np, masks_np = mask_sets(d, hidden, num_masks, order_agnostic, mask_seed)
    orders = jnp.asarray(orders_np)  # [K, D]

    def masked_weights(params, k):
        """The weight matrices of mask set k (an int, maybe traced)."""
        ws = [params[f'w{layer}'] * jnp.asarray(masks_np[layer])[k] for layer in range(len(hidden))]
        return [*ws, params['v'] * jnp.asarray(masks_np[-1])[k]]

    def apply(params, weights, bits):
        h = bits
        for layer in range(len(hidden)):
            h = jax.nn.relu(h @ weights[layer] + params[f'b{layer}'])
        return h @ weights[-1] + params['c']

    def logits(variables, bits, k):
        """[B, D] inputs -> [B, D] Bernoulli logits under mask set k."""
        params = model_params(variables)
        return apply(params, masked_weights(params, k), bits)

    def init(rng, batch):
        bits = data.bits(batch)
        widths = (d, *hidden)
        keys = jax.random.split(rng, len(widths))
        params = {}
        for layer in range(len(hidden)):
            fan_in = widths[layer]
            params[f'w{layer}'] = jax.random.normal(
                keys[layer], widths[layer : layer + 2]
            ) / np.sqrt(fan_in)
            params[f'b{layer}'] = jnp.zeros((widths[layer + 1],))
        params['v'] = jax.random.normal(keys[-1], (hidden[-1], d)) / np.sqrt(hidden[-1])
        params['c'] = marginal_logits(bits)
        return {'model': params}

    def log_prob(variables, batch, rng=None):
        del rng  # the ensemble over every mask set is exact, no draw
        data.check(batch, 'made.log_prob')
        bits = data.bits(batch)
        per_mask = jnp.stack(
            [bernoulli_log_prob(logits(variables, bits, k), bits) for k in range(num_masks)]
        )
        return jax.nn.logsumexp(per_mask, axis=0) - np.log(num_masks)

    def loss(variables, batch, ctx):
        bits = data.bits(batch)
        k = jax.random.randint(ctx.rng, (), 0, num_masks)  # one mask set per step, as in the paper
        nll = -bernoulli_log_prob(logits(variables, bits, k), bits).mean()
        metrics = {'bpd/total': bits_per_dim(nll, d)}
        return {'model': nll / d}, metrics, unchanged_state(variables)

    def decode_rows(logits_of, dims_at, choose, carry, num):
        """The decode scan: at step t, row r's variable dims_at(t)[r] from the network over the
        bits chosen so far (MADE has no cache: one full pass a step)."""

        def body(t, state):
            bits, carry = state
            dims = dims_at(t)  # [num]
            logit = jnp.take_along_axis(logits_of(bits), dims[:, None], axis=1)[:, 0]
            value, carry = choose(carry, binary_log_probs(logit), t.astype(jnp.int32))
            bits = bits.at[jnp.arange(num), dims].set(value.astype(jnp.float32))
            return bits, carry

        bits, carry = jax.lax.fori_loop(0, d, body, (jnp.zeros((num, d), jnp.float32), carry))
        return bits.astype(jnp.int32).reshape(num, *data.shape), carry

    def decode(variables, choose, carry, num, batch=None):
        """The pieces' decode: every row in mask set `coding_mask`'s order."""
        del batch  # unconditional
        order = orders[coding_mask]
        params = model_params(variables)
        weights = masked_weights(params, coding_mask)  # once, not at every step
        return decode_rows(
            lambda bits: apply(params, weights, bits),
            lambda t: jnp.broadcast_to(order[t], (num,)),
            choose,
            carry,
            num,
        )

    def conditionals(variables, batch):
        data.check(batch, 'made.conditionals')
        bits = data.bits(batch)
        logp = binary_log_probs(logits(variables, bits, coding_mask))  # [B, D, 2]
        return logp.reshape(bits.shape[0], *data.shape, 2)

    def sample(variables, rng, num):
        """The decode scan with a draw, each row in its own random mask set: a sample of the
        ensemble that `log_prob` scores."""
        mask_key, draw_key = jax.random.split(rng)
        ks = jax.random.randint(mask_key, (num,), 0, num_masks)
        params = model_params(variables)
        # Each row's masked weights, once: [num, in, out] per layer.
        weights = jax.vmap(lambda k: masked_weights(params, k))(ks)

        def logits_of(bits):
            return jax.vmap(lambda row, ws: apply(params, ws, row[None])[0])(bits, weights)

        bits, _ = decode_rows(logits_of, lambda t: orders[ks, t], draw, draw_key, num)
        return data.to_levels(bits)

    pieces = Pieces(data.shape, 2, orders_np[coding_mask], conditionals, decode)
    family = Family(init=init, loss=loss, sample=sample, log_prob=log_prob, pieces=pieces)
    return family, logits, orders_np


@takes_keywords_of(model)
def make(data_spec, **kw) -> Family:
    return model(data_spec, **kw)[0]
