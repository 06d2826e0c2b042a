"""A flow as a Family: dequantisation, the change of variables, the prior, and the accounting that
turns a density over [0, 1)^D into nats of the discrete data.

For images with K levels:  log p(x) >= log N(z) + log|det dz/dy| - D log K - log q(u | x),
with y = (x + u) / K and z = flow(y) (the flow's first layer is the logit preprocessing). For
continuous data (the 2-D densities) there is no dequantisation and log p(x) is exact.

Parameters: {'model': {'flow': ..., 'dequant': ..., 'state': {...}}}; 'state' (batch-norm
running statistics, 1x1-conv permutations) is the core's reserved non-trainable subtree, updated
through metrics['state_updates'] and checkpointed with everything else.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from models.core.family import STATE_KEY, STATE_UPDATES_KEY, Family
from models.core.metrics import bits_per_dim
from models.flows.bijector import Bijector, Ctx
from models.flows.dequant import Uniform, Variational, normal_log_prob

PRIORS = ('gaussian', 'logistic')
# log_prob(params, batch) has no RNG argument: its dequantisation noise comes from this fixed key
# (a one-sample estimate of the bound, reproducible and the same on any number of devices).
EVAL_NOISE_SEED = 1234


def logistic_log_prob(z):
    return jnp.sum((-jax.nn.softplus(z) - jax.nn.softplus(-z)).reshape(z.shape[0], -1), axis=1)


def make_flow_family(
    data_spec,
    flow: Bijector,
    *,
    name: str,
    dequantizer: Uniform | Variational | None = None,
    prior: str = 'gaussian',
    temperature: float = 1.0,
) -> Family:
    """Checks the flow is invertible on the data's shape (ValueError naming the layer's problem)
    before anything is traced, then builds init / loss / sample / log_prob."""
    if prior not in PRIORS:
        raise ValueError(f'{name}: prior {prior!r}; valid: {list(PRIORS)}')
    if temperature <= 0:
        raise ValueError(f'{name}: sample temperature must be positive, got {temperature}')
    shape = tuple(data_spec.shape)
    try:
        latent_shape = tuple(flow.check(shape))
        if dequantizer is not None:
            dequantizer.check(shape)
    except ValueError as e:
        raise ValueError(f'{name} on {data_spec.name!r} (shape {shape}): {e}') from None
    key = data_spec.key
    levels = data_spec.num_levels
    discrete = levels is not None
    if discrete:
        dequantizer = dequantizer or Uniform()
    num_dims = int(np.prod(shape))
    prior_log_prob = normal_log_prob if prior == 'gaussian' else logistic_log_prob

    def check_input(x):
        if tuple(x.shape[1:]) != shape:
            raise ValueError(
                f'{name}: {key!r} has per-example shape {tuple(x.shape[1:])}, expected {shape} '
                f'(dataset {data_spec.name!r})'
            )
        if discrete and not isinstance(x, jax.core.Tracer):
            low, high = int(jnp.min(x)), int(jnp.max(x))
            if low < 0 or high >= levels:
                raise ValueError(
                    f'{name}: {key!r} values span [{low}, {high}], outside the declared {levels} '
                    f'levels [0, {levels - 1}] of dataset {data_spec.name!r}'
                )

    def split(params):
        model = params['model']
        return model, model.get(STATE_KEY, {'flow': {}, 'dequant': {}})

    def log_likelihood(params, x, rng, ctx: Ctx):
        """(log p(x) estimate [B], log q(u | x) [B], new state)."""
        model, state = split(params)
        if not discrete:
            z, logdet, flow_state = flow.forward(model['flow'], state['flow'], x, ctx)
            new_state = {'flow': flow_state, 'dequant': state['dequant']}
            return prior_log_prob(z) + logdet, jnp.zeros(x.shape[0]), new_state
        u, log_q, deq_state = dequantizer.sample(
            model.get('dequant', {}), state['dequant'], rng, x, levels, ctx.fold(0)
        )
        y = (x.astype(jnp.float32) + u) / levels
        z, logdet, flow_state = flow.forward(model['flow'], state['flow'], y, ctx.fold(1))
        log_p = prior_log_prob(z) + logdet - num_dims * math.log(levels) - log_q
        return log_p, log_q, {'flow': flow_state, 'dequant': deq_state}

    def init(rng, batch):
        x = batch[key]
        check_input(x)
        k_deq, k_flow, k_noise = jax.random.split(rng, 3)
        model, state = {}, {'flow': {}, 'dequant': {}}
        if discrete:
            model['dequant'], state['dequant'] = dequantizer.init(k_deq, x, levels)
            u, _, _ = dequantizer.sample(
                model['dequant'], state['dequant'], k_noise, x, levels, Ctx()
            )
            x = (x.astype(jnp.float32) + u) / levels
        # Data-dependent init: every layer initialises on the activations of this batch.
        model['flow'], state['flow'], _ = flow.init(k_flow, x, Ctx())
        if jax.tree.leaves(state):
            model[STATE_KEY] = state
        return {'model': model}

    def log_prob(params, batch, rng=None):
        """[B] nats of the discrete data (a one-sample estimate of the dequantisation bound; its
        mean over `rng` is the bound), or the exact log-density for continuous data."""
        x = batch[key]
        check_input(x)
        rng = jax.random.PRNGKey(EVAL_NOISE_SEED) if rng is None else rng
        return log_likelihood(params, x, rng, Ctx())[0]

    def loss(params, batch, rng):
        x = batch[key]
        check_input(x)
        k_noise, k_dropout = jax.random.split(rng)
        log_p, log_q, new_state = log_likelihood(params, x, k_noise, Ctx(True, k_dropout))
        nll = -jnp.mean(log_p)
        metrics = {'bpd/total': bits_per_dim(nll, num_dims)} if discrete else {'nll': nll}
        if isinstance(dequantizer, Variational):
            metrics['bpd/dequant_entropy'] = bits_per_dim(-jnp.mean(log_q), num_dims)
        if STATE_KEY in params['model']:
            metrics[STATE_UPDATES_KEY] = {'model': new_state}
        # Per-dimension nats, so the learning rate does not depend on the image size.
        return {'model': nll / num_dims}, metrics

    def sample(params, rng, num):
        model, state = split(params)
        if prior == 'gaussian':
            z = temperature * jax.random.normal(rng, (num, *latent_shape))
        else:
            z = temperature * jax.random.logistic(rng, (num, *latent_shape))
        y = flow.inverse(model['flow'], state['flow'], z, Ctx())
        if not discrete:
            return y
        return jnp.clip(jnp.floor(y * levels), 0, levels - 1).astype(jnp.int32)

    return Family(init=init, loss=loss, sample=sample, log_prob=log_prob)
