"""The parameter layout shared by the GAN families and the functions that run the two players.

Each player ('gen', 'disc') is one Flax module; its entry in the family's params is
`{'net': flax params, 'state': {...}}` where the non-trainable 'state' (see models/core/family.py)
holds what the player needs besides weights: batch-norm running statistics ('batch_stats'),
the virtual-batch-norm reference latents ('reference_z'), and the historical average of its own
parameters ('history'). Losses return the new state under metrics['state_updates'].

The shared step calls the family's loss once per player, so running statistics and historical
averages are updated twice per step (each call draws fresh latents). For the historical average
this repeats every parameter vector the same number of times and leaves the average unchanged
(up to the discriminator's update between the two calls); batch-norm statistics simply move at
momentum 0.9 per call.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.core.family import STATE_KEY
from models.gan import techniques

PyTree = Any


@dataclasses.dataclass(frozen=True)
class Player:
    """A network plus what its state holds."""

    module: nn.Module
    history_weight: float = 0.0  # historical averaging coefficient (0: off)
    reference_size: int = 0  # virtual batch norm reference rows (generator only)
    latent_dim: int = 0  # generator only


def init_player(player: Player, rng: jax.Array, example: jax.Array) -> dict[str, PyTree]:
    """Parameters and state of `player` for inputs shaped like `example` [N, ...]."""
    init_rng, dropout_rng, ref_rng = jax.random.split(rng, 3)
    state: dict[str, PyTree] = {}
    if player.reference_size:
        state['reference_z'] = jax.random.normal(
            ref_rng, (player.reference_size, player.latent_dim)
        )
        example = jnp.concatenate([state['reference_z'], example])
    variables = player.module.init({'params': init_rng, 'dropout': dropout_rng}, example, True)
    if 'batch_stats' in variables:
        state['batch_stats'] = variables['batch_stats']
    if player.history_weight:
        state['history'] = techniques.historical_average_init(variables['params'])
    out = {'net': variables['params']}
    if state:
        out[STATE_KEY] = state
    return out


def apply_player(
    player: Player, params: dict[str, PyTree], inputs: jax.Array, train: bool, rng=None
) -> tuple[Any, dict[str, PyTree] | None]:
    """(outputs, state update or None). Batch-norm statistics move only in training mode.

    For a generator with virtual batch norm, the reference latents run through the network in
    the same call, ahead of `inputs`, and their rows are dropped from the output.
    """
    state = params.get(STATE_KEY, {})
    variables = {'params': params['net']}
    if 'batch_stats' in state:
        variables['batch_stats'] = state['batch_stats']
    reference = state.get('reference_z')
    if reference is not None:
        inputs = jnp.concatenate([reference, inputs])
    rngs = {'dropout': rng} if rng is not None else {}
    if train and 'batch_stats' in state:
        out, mutated = player.module.apply(
            variables, inputs, True, rngs=rngs, mutable=['batch_stats']
        )
        new_state = {'batch_stats': mutated['batch_stats']}
    else:
        out, new_state = player.module.apply(variables, inputs, train, rngs=rngs), None
    if reference is not None:
        out = jax.tree.map(lambda a: a[reference.shape[0] :], out)
    return out, new_state


def history_penalty(player: Player, params: dict[str, PyTree]) -> tuple[jax.Array, Any]:
    """(weight * ||theta - historical mean||^2, the history with theta added) or (0, None)."""
    if not player.history_weight:
        return jnp.zeros(()), None
    history = params[STATE_KEY]['history']
    penalty = techniques.historical_average_penalty(params['net'], history['mean'])
    return player.history_weight * penalty, techniques.historical_average_update(
        history, params['net']
    )


def merged_state(params: dict[str, PyTree], *updates: dict[str, PyTree] | None) -> Any:
    """The player's state with the given partial updates applied (None: nothing changed)."""
    state = dict(params.get(STATE_KEY, {}))
    for update in updates:
        if update:
            state.update(update)
    return state


def latents(rng: jax.Array, num: int, dim: int) -> jax.Array:
    return jax.random.normal(rng, (num, dim))  # [N, dim]
