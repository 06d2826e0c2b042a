"""A flow as a Family, built from its typed pieces (pieces.py): the loss in training mode, the
test likelihood, sampling with a temperature, and a picture of 2-D samples.

For images with K levels: log p(x) >= log N(z) + log|det dz/dy| - log q(y | x), y the dequantised
data, z = flow(y) (the flow's first layer is the logit preprocessing), log q(y | x) =
log q(u | x) + D log K. For continuous data (the 2-D densities) there is no dequantisation and
log p(x) is exact.

Parameters: {'model': {'flow': ..., 'dequant': ...}}. Loop state: {'flow': ..., 'dequant': ...}
(batch-norm running statistics, 1x1-conv permutations), returned by the loss after each step and
checkpointed with everything else; {} for a flow without any.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from models.core.family import Family
from models.core.metrics import bits_per_dim
from models.flows import density2d
from models.flows.bijector import EVAL, Bijector, Ctx, total_logdet
from models.flows.dequant import Uniform, Variational
from models.flows.pieces import FlowPieces


def make_flow_family(
    data_spec,
    flow: Bijector,
    *,
    name: str,
    dequantizer: Uniform | Variational | None = None,
    prior: str = 'gaussian',
    temperature: float = 1.0,
) -> Family:
    """The Family of `flow` on `data_spec`, with its `FlowPieces` on `Family.pieces`."""
    if temperature <= 0:
        raise ValueError(f'{name}: sample temperature must be positive, got {temperature}')
    pieces = FlowPieces(data_spec, flow, name=name, dequantizer=dequantizer, prior=prior)

    def log_likelihood(variables, x, rng, ctx: Ctx):
        """(log p(x) estimate [B], log q(y | x) [B], new loop state)."""
        y, log_q, dequant_state = pieces.run_dequantizer(variables, x, rng, ctx.fold(0))
        z, logdets, flow_state = pieces.run_flow(variables, y, ctx.fold(1))
        log_p = pieces.prior_log_prob(z) + total_logdet(logdets, z) - log_q
        return log_p, log_q, pieces.new_state(variables, dequant_state, flow_state)

    def log_prob(variables, batch, rng):
        """[B] nats of the discrete data: a one-sample estimate of the dequantisation bound with
        the noise drawn from `rng` (its mean over keys is the bound), or the exact log-density
        for continuous data (`rng` unused)."""
        return log_likelihood(variables, pieces.data(batch), rng, EVAL)[0]

    def loss(variables, batch, ctx):
        x = pieces.data(batch)
        k_noise, k_dropout = jax.random.split(ctx.rng)
        log_p, log_q, new_state = log_likelihood(variables, x, k_noise, Ctx(True, k_dropout))
        nll = -jnp.mean(log_p)
        num_dims = pieces.num_dims
        metrics = {'bpd/total': bits_per_dim(nll, num_dims)} if pieces.discrete else {'nll': nll}
        if isinstance(pieces.dequantizer, Variational):
            # The entropy of u ~ q(u | x): log q(u | x) = log q(y | x) - D log K.
            entropy = num_dims * math.log(pieces.num_levels) - jnp.mean(log_q)
            metrics['bpd/dequant_entropy'] = bits_per_dim(entropy, num_dims)
        # Per-dimension nats, so the learning rate does not depend on the image size.
        return {'model': nll / num_dims}, metrics, new_state

    def sample(variables, rng, num):
        # Both priors are location-scale with location 0: scaling the draw is the temperature.
        z = temperature * pieces.prior_sample(rng, num)
        return pieces.quantize(pieces.inverse(variables, z))

    points = not pieces.discrete and pieces.event_shape == (2,)
    return Family(
        init=pieces.init,
        loss=loss,
        sample=sample,
        log_prob=log_prob,
        render=density2d.render_points if points else None,
        pieces=pieces,
    )
