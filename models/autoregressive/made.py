"""MADE: Masked Autoencoder for Distribution Estimation (Germain, Gregor, Murray & Larochelle 2015,
arXiv:1502.03509), with order-agnostic and connectivity-agnostic training.

Each unit gets a degree: inputs their rank in an ordering (1..D), hidden units a random integer
in [min degree below, D - 1]. A weight is kept when the unit above has degree >= the unit below
(hidden layers) or > it (output layer), so output d depends only on inputs earlier in the
ordering. With `num_masks` > 1 each training step draws one of `num_masks` fixed mask sets
(degrees redrawn for every set: connectivity-agnostic; orderings too with `order_agnostic`), and
`log_prob` is the ensemble over all of them, log (1/K) sum_k p_k(x), as in the paper's
"32 masks" results. Sampling draws each sample's mask set, then its dimensions in its order.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.autoregressive.binary import BinaryData, bernoulli_log_prob, marginal_logits
from models.core.family import Family
from models.core.metrics import bits_per_dim


def mask_sets(
    num_dims: int, hidden: tuple[int, ...], num_masks: int, order_agnostic: bool, seed: int
):
    """Per mask set: the input ordering and the 0/1 masks of every layer, stacked over sets."""
    orders, layers = [], [[] for _ in range(len(hidden) + 1)]
    for k in range(num_masks):
        rs = np.random.RandomState(seed * 10007 + k)
        order = rs.permutation(num_dims) if order_agnostic else np.arange(num_dims)
        degree_in = np.empty(num_dims, np.int64)
        degree_in[order] = np.arange(1, num_dims + 1)  # rank of each input in the ordering
        below = degree_in
        for layer, width in enumerate(hidden):
            low = min(int(below.min()), num_dims - 1)
            degree = rs.randint(low, num_dims, size=width)  # in [low, D - 1]
            layers[layer].append((degree[None, :] >= below[:, None]).astype(np.float32))
            below = degree
        layers[-1].append((degree_in[None, :] > below[:, None]).astype(np.float32))
        orders.append(order)
    return np.stack(orders), [np.stack(m) for m in layers]


def model(
    data_spec,
    hidden: tuple[int, ...] = (500,),
    num_masks: int = 1,
    order_agnostic: bool = False,
    binarize_at: int | None = None,
    mask_seed: int = 0,
):
    data = BinaryData(data_spec, binarize_at, 'made')
    hidden = tuple(int(h) for h in hidden)
    if not hidden or min(hidden) < 1 or num_masks < 1:
        raise ValueError(f'made: hidden {hidden} and num_masks {num_masks} must be positive')
    d = data.num_dims
    orders_np, masks_np = mask_sets(d, hidden, num_masks, order_agnostic, mask_seed)
    orders = jnp.asarray(orders_np)  # [K, D]

    def masked_weights(params, k):
        """The weight matrices of mask set k (an int, maybe traced)."""
        p = params['model']
        ws = [p[f'w{layer}'] * jnp.asarray(masks_np[layer])[k] for layer in range(len(hidden))]
        return [*ws, p['v'] * jnp.asarray(masks_np[-1])[k]]

    def apply(params, weights, bits):
        p = params['model']
        h = bits
        for layer in range(len(hidden)):
            h = jax.nn.relu(h @ weights[layer] + p[f'b{layer}'])
        return h @ weights[-1] + p['c']

    def logits(params, bits, k):
        """[B, D] inputs -> [B, D] Bernoulli logits under mask set k."""
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

    def log_prob(params, batch):
        data.check(batch, 'made.log_prob')
        bits = data.bits(batch)
        per_mask = jnp.stack(
            [bernoulli_log_prob(logits(params, bits, k), bits) for k in range(num_masks)]
        )
        return jax.nn.logsumexp(per_mask, axis=0) - np.log(num_masks)

    def loss(params, batch, rng):
        bits = data.bits(batch)
        k = jax.random.randint(rng, (), 0, num_masks)  # one mask set per step, as in the paper
        nll = -bernoulli_log_prob(logits(params, bits, k), bits).mean()
        return {'model': nll / d}, {'bpd/total': bits_per_dim(nll, d)}

    def sample(params, rng, num):
        mask_key, draw_key = jax.random.split(rng)
        ks = jax.random.randint(mask_key, (num,), 0, num_masks)

        # Each sample's masked weights, once: [num, in, out] per layer.
        weights = jax.vmap(lambda k: masked_weights(params, k))(ks)

        def one_logits(bits_row, ws):
            return apply(params, ws, bits_row[None])[0]

        def body(t, bits):
            dims = orders[ks, t]  # [num]: each sample's t-th dimension
            all_logits = jax.vmap(one_logits)(bits, weights)  # [num, D]
            logit = jnp.take_along_axis(all_logits, dims[:, None], axis=1)[:, 0]
            u = jax.random.uniform(jax.random.fold_in(draw_key, t), (num,))
            value = (u < jax.nn.sigmoid(logit)).astype(jnp.float32)
            return bits.at[jnp.arange(num), dims].set(value)

        bits = jax.lax.fori_loop(0, d, body, jnp.zeros((num, d), jnp.float32))
        return data.to_levels(bits)

    family = Family(init=init, loss=loss, sample=sample, log_prob=log_prob)
    return family, logits, orders_np


def make(data_spec, **kw) -> Family:
    return model(data_spec, **kw)[0]
