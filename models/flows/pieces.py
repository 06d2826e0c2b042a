"""A flow's typed pieces (`models.core.pieces.Bijective`): the dequantiser, the flow with one
log-determinant per layer, its inverse and the prior. The flow families (density.py) are built
from these, so the training loss, the test likelihood, sampling and an entropy coder share one
implementation.

Data x are integer levels in [0, K) (continuous data, the 2-D densities, are used as they are);
y = (x + u) / K in [0, 1)^D is the dequantised data, z = flow(y) the latent, which has the data's
shape. With log q(y | x) the density of y (so log q(u | x) + D log K, the Jacobian of u -> y):

    log p(x) >= log N(z) + sum of the layers' log|det dz/dy| - log q(y | x),

in nats of the discrete data; for uniform noise log q(y | x) = D log K.

Variables: params {'model': {'flow': ..., 'dequant': ...}} (no 'dequant' for continuous data);
loop state {'flow': ..., 'dequant': ...}: batch-norm running statistics and the 1x1
convolutions' fixed permutations and signs, or {} for a flow without any.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from models.core.family import Variables
from models.flows.bijector import EVAL, Bijector, Ctx
from models.flows.dequant import Uniform, Variational, normal_log_prob

PRIORS = ('gaussian', 'logistic')


def logistic_log_prob(z):
    return jnp.sum((-jax.nn.softplus(z) - jax.nn.softplus(-z)).reshape(z.shape[0], -1), axis=1)


class FlowPieces:
    """`Bijective` pieces of a flow on one dataset.

    The Protocol's methods run the flow as at evaluation (running batch-norm statistics, no
    dropout) and drop the loop state. The loss uses `run_dequantizer` and `run_flow`, which take a
    flow context (training mode, dropout key) and return the new loop state as well.
    """

    def __init__(
        self,
        data_spec,
        flow: Bijector,
        *,
        name: str,
        dequantizer: Uniform | Variational | None = None,
        prior: str = 'gaussian',
    ):
        """Checks the flow is invertible on the data's shape and maps it to itself (ValueError
        naming the layer's problem) before anything is traced."""
        if prior not in PRIORS:
            raise ValueError(f'{name}: prior {prior!r}; valid: {list(PRIORS)}')
        shape = tuple(data_spec.shape)
        try:
            latent_shape = tuple(flow.check(shape))
            if dequantizer is not None:
                dequantizer.check(shape)
        except ValueError as e:
            raise ValueError(f'{name} on {data_spec.name!r} (shape {shape}): {e}') from None
        if latent_shape != shape:
            raise ValueError(
                f'{name} on {data_spec.name!r}: the flow maps shape {shape} to {latent_shape}; '
                "the latent must have the data's shape (end with the layers that undo squeezes "
                'or flattening)'
            )
        self.name = name
        self.flow = flow
        self.prior = prior
        self.key = data_spec.key
        self.dataset = data_spec.name
        self.event_shape = shape
        self.num_levels = data_spec.num_levels
        self.dequantizer = (dequantizer or Uniform()) if self.discrete else None
        self.num_dims = int(np.prod(shape))

    @property
    def discrete(self) -> bool:
        return self.num_levels is not None

    # -- data, init and the loop state ------------------------------------------------------------

    def data(self, batch) -> jax.Array:
        """The batch's data, checked: shape always, level range when the values are concrete."""
        x = batch[self.key]
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(
                f'{self.name}: {self.key!r} has per-example shape {tuple(x.shape[1:])}, expected '
                f'{self.event_shape} (dataset {self.dataset!r})'
            )
        if self.discrete and not isinstance(x, jax.core.Tracer):
            low, high = int(jnp.min(x)), int(jnp.max(x))
            if low < 0 or high >= self.num_levels:
                raise ValueError(
                    f'{self.name}: {self.key!r} values span [{low}, {high}], outside the declared '
                    f'{self.num_levels} levels [0, {self.num_levels - 1}] of dataset '
                    f'{self.dataset!r}'
                )
        return x

    def init(self, rng, batch) -> Variables:
        """Data-dependent init: every layer initialises on the activations of this batch."""
        x = self.data(batch)
        k_deq, k_flow, k_noise = jax.random.split(rng, 3)
        params, state = {}, {'flow': {}, 'dequant': {}}
        if self.discrete:
            params['dequant'], state['dequant'] = self.dequantizer.init(k_deq, x, self.num_levels)
        y, _, _ = self.run_dequantizer(Variables({'model': params}, state), x, k_noise, EVAL)
        params['flow'], state['flow'], _ = self.flow.init(k_flow, y, EVAL)
        # A flow without state keeps none, so its checkpoints hold no empty subtrees.
        return Variables({'model': params}, state if jax.tree.leaves(state) else {})

    @staticmethod
    def _state(variables, part: str):
        return (variables.state or {}).get(part, {})

    @staticmethod
    def new_state(variables, dequant_state, flow_state):
        """The loop state after a pass: `variables.state` itself for a flow without state."""
        if not jax.tree.leaves(variables.state):
            return variables.state
        return {'flow': flow_state, 'dequant': dequant_state}

    # -- with a flow context: what the loss runs ---------------------------------------------------

    def run_dequantizer(self, variables, x, rng, ctx: Ctx):
        """(y [B, *event], log q(y | x) [B], new dequantiser state)."""
        state = self._state(variables, 'dequant')
        if not self.discrete:
            return x, jnp.zeros(x.shape[0]), state
        u, log_q_u, state = self.dequantizer.sample(
            variables.params['model'].get('dequant', {}), state, rng, x, self.num_levels, ctx
        )
        y = (x.astype(jnp.float32) + u) / self.num_levels
        return y, log_q_u + self.num_dims * math.log(self.num_levels), state

    def run_flow(self, variables, y, ctx: Ctx):
        """(z [B, *event], per-layer log|det dz/dy| tuple of [B], new flow state)."""
        return self.flow.forward_layers(
            variables.params['model']['flow'], self._state(variables, 'flow'), y, ctx
        )

    # -- the Bijective protocol ------------------------------------------------------------------

    def dequantize(self, variables, batch, rng):
        y, log_q, _ = self.run_dequantizer(variables, self.data(batch), rng, EVAL)
        return y, log_q

    def quantize(self, y):
        """Levels of the bins that hold y; continuous data have no bins and come back unchanged."""
        if not self.discrete:
            return y
        return jnp.clip(jnp.floor(y * self.num_levels), 0, self.num_levels - 1).astype(jnp.int32)

    def forward(self, variables, y):
        z, logdets, _ = self.run_flow(variables, y, EVAL)
        return z, logdets

    def inverse(self, variables, z):
        flow_params = variables.params['model']['flow']
        return self.flow.inverse(flow_params, self._state(variables, 'flow'), z, EVAL)

    def prior_log_prob(self, z):
        return normal_log_prob(z) if self.prior == 'gaussian' else logistic_log_prob(z)

    def prior_sample(self, rng, num: int):
        draw = jax.random.normal if self.prior == 'gaussian' else jax.random.logistic
        return draw(rng, (num, *self.event_shape))
