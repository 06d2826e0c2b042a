"""The variable layout shared by the GAN families and the functions that run the two players.

Each player ('gen', 'disc') is one Flax module. Its trainable weights are the family's
`params[player]` (the Flax 'params' collection as is); what it needs besides weights is its entry
of the loop state (`state[player]`, see models/core/family.py), a dict holding any of
    'batch_stats'  batch-norm running statistics (Flax's 'batch_stats' collection),
    'reference_z'  the virtual-batch-norm reference latents (generator only; fixed at init),
    'history'      the historical average of its own parameters ({'mean', 'count'}),
and empty for a player that has none of them. The loss returns the whole new state, both players'.

The shared step evaluates the family's loss once per player (with the same step key, so the same
latents), keeping the state of an evaluation whose update was applied; running statistics and
historical averages therefore move twice per step. For the historical average this repeats every
parameter vector the same number of times and leaves the average unchanged (up to the
discriminator's update between the two evaluations); batch-norm statistics simply move at
momentum 0.9 per evaluation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.core.family import Variables
from models.gan import techniques

PyTree = Any


@dataclasses.dataclass(frozen=True)
class Player:
    """A network plus what its state holds."""

    module: nn.Module
    history_weight: float = 0.0  # historical averaging coefficient (0: off)
    reference_size: int = 0  # virtual batch norm reference rows (generator only)
    latent_dim: int = 0  # generator only


def init_player(
    player: Player, rng: jax.Array, example: jax.Array
) -> tuple[PyTree, dict[str, PyTree]]:
    """(params, state) of `player` for inputs shaped like `example` [N, ...]."""
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
    return variables['params'], state


def init_gan(
    gen: Player, disc: Player, gen_rng: jax.Array, disc_rng: jax.Array, z: jax.Array, real
) -> Variables:
    """Both players, for latents like `z` [N, latent] and real inputs like `real` [N, ...]."""
    gen_params, gen_state = init_player(gen, gen_rng, z)
    disc_params, disc_state = init_player(disc, disc_rng, real)
    return Variables(
        params={'gen': gen_params, 'disc': disc_params},
        state={'gen': gen_state, 'disc': disc_state},
    )


def apply_player(
    player: Player,
    params: PyTree,
    state: dict[str, PyTree],
    inputs: jax.Array,
    train: bool,
    rng=None,
) -> tuple[Any, dict[str, PyTree] | None]:
    """(outputs, state update or None). Batch-norm statistics move only in training mode.

    For a generator with virtual batch norm, the reference latents run through the network in
    the same call, ahead of `inputs`, and their rows are dropped from the output.
    """
    variables = {'params': params}
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
        update = {'batch_stats': mutated['batch_stats']}
    else:
        out, update = player.module.apply(variables, inputs, train, rngs=rngs), None
    if reference is not None:
        out = jax.tree.map(lambda a: a[reference.shape[0] :], out)
    return out, update


def history_penalty(
    player: Player, params: PyTree, state: dict[str, PyTree]
) -> tuple[jax.Array, dict[str, PyTree] | None]:
    """(weight * ||theta - historical mean||^2, {'history': history with theta added}) or
    (0, None) without historical averaging."""
    if not player.history_weight:
        return jnp.zeros(()), None
    history = state['history']
    penalty = techniques.historical_average_penalty(params, history['mean'])
    return player.history_weight * penalty, {
        'history': techniques.historical_average_update(history, params)
    }


def merged_state(state: dict[str, PyTree], *updates: dict[str, PyTree] | None) -> dict:
    """The player's state with the given partial updates applied (None: nothing changed)."""
    merged = dict(state)
    for update in updates:
        if update:
            merged.update(update)
    return merged


def latents(rng: jax.Array, num: int, dim: int) -> jax.Array:
    return jax.random.normal(rng, (num, dim))  # [N, dim]
