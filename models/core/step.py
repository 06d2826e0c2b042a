"""The one shared training step: per-player gradient updates, EMA, and non-finite guards.

The step is a pure function `(state, batch) -> (state, metrics)` that the loop jit-compiles once
over the device mesh with the state donated. It knows nothing about which family it trains.

State layout (a plain dict, so shardings and checkpoints see only pytrees):
    params:    {player: pytree}      the player's 'state' subtree is non-trainable (see family.py)
    opt:       {player: optax state} over the trainable part only
    ema:       {player: pytree}      only for players with ema_decay > 0
    step:      int32                 also the data position: batch `step` is the step's input
    rng:       uint32[2]             base key; each step uses fold_in(rng, step)
    nonfinite: {'skipped': int32, 'first_bad_step': int32}  (-1 while every step was finite)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from models.core.family import STATE_KEY, STATE_UPDATES_KEY, Family

PyTree = Any


def split_trainable(player_params: PyTree) -> tuple[PyTree, PyTree | None]:
    """(trainable, non-trainable 'state' subtree or None)."""
    if isinstance(player_params, dict) and STATE_KEY in player_params:
        trainable = {k: v for k, v in player_params.items() if k != STATE_KEY}
        return trainable, player_params[STATE_KEY]
    return player_params, None


def merge_trainable(trainable: PyTree, frozen: PyTree | None) -> PyTree:
    if frozen is None:
        return trainable
    return {**trainable, STATE_KEY: frozen}


def ema_decay_at(decay: float, step: jax.Array) -> jax.Array:
    """Debiased decay, min(decay, (1 + t) / (10 + t)), so short runs are not dominated by init."""
    t = step.astype(jnp.float32)
    return jnp.minimum(decay, (1.0 + t) / (10.0 + t))


def _select(pred: jax.Array, new: PyTree, old: PyTree) -> PyTree:
    return jax.tree.map(lambda n, o: jnp.where(pred, n, o), new, old)


def make_init(
    family: Family,
    optimizers: dict[str, optax.GradientTransformation],
    ema_decays: dict[str, float],
) -> Callable[[jax.Array, dict[str, jax.Array]], dict[str, Any]]:
    players = tuple(optimizers)

    def init(rng: jax.Array, batch: dict[str, jax.Array]) -> dict[str, Any]:
        init_rng, base_rng = jax.random.split(rng)
        params = family.init(init_rng, batch)
        if set(params) != set(players):
            raise ValueError(
                f'family init returned players {sorted(params)} but config.optim has '
                f'{sorted(players)}: give each player exactly one optimizer entry'
            )
        opt = {p: optimizers[p].init(split_trainable(params[p])[0]) for p in players}
        # A copy, not an alias: the train step donates params and ema as separate buffers.
        ema = {p: jax.tree.map(jnp.copy, params[p]) for p in players if ema_decays.get(p, 0.0) > 0}
        return {
            'params': params,
            'opt': opt,
            'ema': ema,
            'step': jnp.zeros((), jnp.int32),
            'rng': base_rng,
            'nonfinite': {
                'skipped': jnp.zeros((), jnp.int32),
                'first_bad_step': jnp.full((), -1, jnp.int32),
            },
        }

    return init


def make_train_step(
    family: Family,
    optimizers: dict[str, optax.GradientTransformation],
    ema_decays: dict[str, float],
    on_nonfinite: str = 'stop',
) -> Callable[[dict[str, Any], dict[str, jax.Array]], tuple[dict[str, Any], dict[str, jax.Array]]]:
    """Updates the players in the order of `optimizers`; later players see earlier updates.

    A player whose loss or gradient is not finite is not updated (its params, optimizer state,
    non-trainable state and EMA stay as they were). With on_nonfinite='skip' such steps are
    counted and training goes on. With 'stop' the first bad step is recorded and no player is
    updated from then on, so the loop can stop at its next sync point; the in-memory state is
    never checkpointed after that (players before the bad one in that step were updated).
    The guard is a `lax.cond` around each update rather than a select over the whole state: the
    select costs a full extra pass over params and optimizer state (about 20% of a memory-bound
    step on CPU), the branch almost nothing. No host round trip either way.
    """
    players: Sequence[str] = tuple(optimizers)
    if on_nonfinite not in ('stop', 'skip'):
        raise ValueError(f"on_nonfinite must be 'stop' or 'skip', got {on_nonfinite!r}")

    def step_fn(state, batch):
        step = state['step']
        step_rng = jax.random.fold_in(state['rng'], step)
        params = dict(state['params'])
        new_opt = dict(state['opt'])
        ema = dict(state['ema'])
        metrics: dict[str, jax.Array] = {}
        nonfinite = dict(state['nonfinite'])
        halted = nonfinite['first_bad_step'] >= 0 if on_nonfinite == 'stop' else jnp.array(False)
        any_bad = jnp.array(False)

        for index, player in enumerate(players):
            loss_rng = jax.random.fold_in(step_rng, index)
            trainable, frozen = split_trainable(params[player])

            def objective(tr, player=player, frozen=frozen, loss_rng=loss_rng, current=params):
                losses, aux = family.loss(
                    {**current, player: merge_trainable(tr, frozen)}, batch, loss_rng
                )
                return losses[player], aux

            (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(trainable)
            aux = dict(aux)
            state_updates = aux.pop(STATE_UPDATES_KEY, {})
            grad_norm = optax.tree.norm(grads)
            finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
            ok = finite & jnp.logical_not(halted)
            if on_nonfinite == 'stop':
                ok &= jnp.logical_not(any_bad)  # nothing moves after a bad player in this step
            any_bad |= jnp.logical_not(finite)

            def update(operands, player=player):
                grads, opt_state, tr = operands
                updates, opt_state = optimizers[player].update(grads, opt_state, tr)
                return optax.apply_updates(tr, updates), opt_state

            def keep(operands):
                return operands[2], operands[1]

            trainable, new_opt[player] = jax.lax.cond(
                ok, update, keep, (grads, new_opt[player], trainable)
            )
            params[player] = merge_trainable(trainable, frozen)
            for other, new_state in state_updates.items():
                old_state = split_trainable(params[other])[1]
                kept = _select(ok, new_state, old_state) if old_state is not None else new_state
                params[other] = {**params[other], STATE_KEY: kept}
            if player in ema:
                decay = ema_decay_at(ema_decays[player], step)

                def move(operands, decay=decay):
                    old, new = operands
                    return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, old, new)

                ema[player] = jax.lax.cond(
                    ok, move, lambda operands: operands[0], (ema[player], params[player])
                )
            metrics.update(aux)
            metrics[f'{player}/loss'] = loss
            metrics[f'{player}/grad_norm'] = grad_norm

        if on_nonfinite == 'stop':
            newly_bad = any_bad & jnp.logical_not(halted)
            nonfinite['first_bad_step'] = jnp.where(newly_bad, step, nonfinite['first_bad_step'])
        else:
            nonfinite['skipped'] = nonfinite['skipped'] + any_bad.astype(jnp.int32)
        metrics['nonfinite/skipped'] = nonfinite['skipped']
        metrics['nonfinite/first_bad_step'] = nonfinite['first_bad_step']
        new_state = {
            'params': params,
            'opt': new_opt,
            'ema': ema,
            'step': step + 1,
            'rng': state['rng'],
            'nonfinite': nonfinite,
        }
        return new_state, metrics

    return step_fn


def eval_params(state: dict[str, Any], use_ema: bool) -> dict[str, PyTree]:
    """The parameters to evaluate and sample with: EMA where a player keeps one."""
    if not use_ema:
        return state['params']
    return {p: state['ema'].get(p, v) for p, v in state['params'].items()}


def make_eval_step(family: Family) -> Callable[..., dict[str, jax.Array]]:
    """Sums of per-example log-likelihood over the real (mask = 1) rows of a padded batch."""

    def eval_fn(params, batch, mask):
        log_prob = family.log_prob(params, batch)
        real = mask > 0
        return {
            # where(), not a product: padding rows may carry -inf and -inf * 0 is nan.
            'log_prob_sum': jnp.sum(jnp.where(real, log_prob, 0.0)),
            'count': jnp.sum(mask),
            'nonfinite': jnp.sum(real & jnp.logical_not(jnp.isfinite(log_prob))),
        }

    return eval_fn
