"""The one shared training step and the pieces a family's own update is built from.

The step is a pure function `(train_state, batch) -> (train_state, metrics)` that the loop
jit-compiles once over the device mesh with the state donated. It knows nothing about which
family it trains.

Train state layout (a plain dict, so shardings and checkpoints see only pytrees):
    params:    {player: pytree}      trainable parameters
    state:     pytree                the family's loop state (see family.py); never averaged
    opt:       {player: optax state}
    ema:       {player: pytree}      only for players with ema_decay > 0
    step:      int32                 also the data position: batch `step` is the step's input
    rng:       uint32[2]             base key; step t's key is fold_in(rng, t)
    nonfinite: {'skipped': int32, 'first_bad_step': int32}  (-1 while every step was finite)

A step runs `family.update` (or `default_update`) on an `UpdateState` (params, opt, loop state and
a `guard`), then moves the EMA of every player whose updates this step were all applied, then
books non-finite steps. The guard is part of the pytree the update threads through, so a family
may call the tools inside `lax.scan` (PPO's minibatch epochs) without leaking tracers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from models.core.family import Context, Family, Variables, as_variables

PyTree = Any


class UpdateState(NamedTuple):
    """What an update reads and returns. `guard` is bookkeeping the tools own: leave it alone."""

    params: dict[str, PyTree]
    opt: dict[str, PyTree]
    state: PyTree
    guard: dict[str, Any]

    @property
    def variables(self) -> Variables:
        return Variables(self.params, self.state)


def ema_decay_at(decay: float, step: jax.Array) -> jax.Array:
    """Debiased decay, min(decay, (1 + t) / (10 + t)), so short runs are not dominated by init."""
    t = step.astype(jnp.float32)
    return jnp.minimum(decay, (1.0 + t) / (10.0 + t))


def select(pred: jax.Array, new: PyTree, old: PyTree) -> PyTree:
    """`new` where pred else `old`, leaf by leaf (for small trees such as loop state)."""
    return jax.tree.map(lambda n, o: jnp.where(pred, n, o), new, old)


class UpdateTools:
    """The shared pieces of an update: guarded optax updates, guarded assignment, loss gradients.

    Non-finite guard: a player's update is applied only if its loss and gradient are finite and,
    with on_nonfinite='stop', nothing was bad earlier in this step or in an earlier step. A
    skipped update leaves that player's params and optimizer state as they were; the EMA of a
    player moves only if every update it got this step was applied.
    """

    def __init__(
        self,
        optimizers: dict[str, optax.GradientTransformation],
        on_nonfinite: str,
        halted: jax.Array,
    ):
        self.optimizers = optimizers
        self.players: Sequence[str] = tuple(optimizers)
        self.on_nonfinite = on_nonfinite
        self._halted = halted

    def start(self, params, opt, state) -> UpdateState:
        guard = {
            'bad': jnp.array(False),
            'applied': {p: jnp.array(True) for p in self.players},
        }
        return UpdateState(dict(params), dict(opt), state, guard)

    def _may_apply(self, ts: UpdateState, finite: jax.Array) -> tuple[jax.Array, dict]:
        ok = finite & jnp.logical_not(self._halted)
        if self.on_nonfinite == 'stop':
            ok &= jnp.logical_not(ts.guard['bad'])  # nothing moves after a bad update this step
        guard = {**ts.guard, 'bad': ts.guard['bad'] | jnp.logical_not(finite)}
        return ok, guard

    def _booked(self, guard: dict, player: str, ok: jax.Array) -> dict:
        return {**guard, 'applied': {**guard['applied'], player: guard['applied'][player] & ok}}

    def apply_gradients(
        self, ts: UpdateState, player: str, grads: PyTree, loss: jax.Array | None = None
    ) -> tuple[UpdateState, jax.Array]:
        """One optax update of `player` under the guard: (new UpdateState, applied?)."""
        finite = jnp.isfinite(optax.tree.norm(grads))
        if loss is not None:
            finite &= jnp.all(jnp.isfinite(loss))
        ok, guard = self._may_apply(ts, finite)

        def update(operands):
            grads, opt_state, params = operands
            updates, opt_state = self.optimizers[player].update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        # A branch, not a select over the state: the select costs a full extra pass over params
        # and optimizer state (about 20% of a memory-bound step on CPU), the branch almost nothing.
        new_params, new_opt = jax.lax.cond(
            ok, update, lambda o: (o[2], o[1]), (grads, ts.opt[player], ts.params[player])
        )
        ts = ts._replace(
            params={**ts.params, player: new_params},
            opt={**ts.opt, player: new_opt},
            guard=self._booked(guard, player, ok),
        )
        return ts, ok

    def assign(
        self, ts: UpdateState, player: str, new_params: PyTree, valid: jax.Array | bool = True
    ) -> tuple[UpdateState, jax.Array]:
        """Sets a player's params computed without optax (TRPO's line search) under the guard."""
        finite = jnp.isfinite(optax.tree.norm(new_params)) & jnp.asarray(valid)
        ok, guard = self._may_apply(ts, finite)
        kept = jax.lax.cond(ok, lambda o: o[0], lambda o: o[1], (new_params, ts.params[player]))
        ts = ts._replace(params={**ts.params, player: kept}, guard=self._booked(guard, player, ok))
        return ts, ok

    def keep_state_if(self, ts: UpdateState, ok: jax.Array, new_state: PyTree) -> UpdateState:
        """The loop state from a loss evaluation, kept only if the update it went with applied."""
        return ts._replace(state=select(ok, new_state, ts.state))

    @staticmethod
    def loss_and_grad(family: Family, ts: UpdateState, player: str, batch, ctx: Context):
        """((loss, metrics, new_state), grads of `player`'s loss w.r.t. its params)."""

        def objective(own):
            losses, metrics, new_state = family.loss(
                Variables({**ts.params, player: own}, ts.state), batch, ctx
            )
            return losses[player], (metrics, new_state)

        (loss, (metrics, new_state)), grads = jax.value_and_grad(objective, has_aux=True)(
            ts.params[player]
        )
        return (loss, metrics, new_state), grads


def default_update(family: Family):
    """Players in config order, each one guarded optax update from the gradient of its loss."""

    def update(tools: UpdateTools, ts: UpdateState, batch, ctx: Context):
        metrics: dict[str, jax.Array] = {}
        for player in tools.players:
            (loss, aux, new_state), grads = tools.loss_and_grad(family, ts, player, batch, ctx)
            ts, ok = tools.apply_gradients(ts, player, grads, loss)
            ts = tools.keep_state_if(ts, ok, new_state)
            metrics.update(aux)
            metrics[f'{player}/loss'] = loss
            metrics[f'{player}/grad_norm'] = optax.tree.norm(grads)
        return ts, metrics

    return update


def make_init(
    family: Family,
    optimizers: dict[str, optax.GradientTransformation],
    ema_decays: dict[str, float],
) -> Callable[[jax.Array, Any], dict[str, Any]]:
    players = tuple(optimizers)

    def init(rng: jax.Array, batch: Any) -> dict[str, Any]:
        init_rng, base_rng = jax.random.split(rng)
        params, state = as_variables(family.init(init_rng, batch))
        if set(params) != set(players):
            raise ValueError(
                f'family init returned players {sorted(params)} but config.optim has '
                f'{sorted(players)}: give each player exactly one optimizer entry'
            )
        opt = {p: optimizers[p].init(params[p]) for p in players}
        # A copy, not an alias: the train step donates params and ema as separate buffers.
        ema = {p: jax.tree.map(jnp.copy, params[p]) for p in players if ema_decays.get(p, 0.0) > 0}
        return {
            'params': params,
            'state': state,
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
) -> Callable[[dict[str, Any], Any], tuple[dict[str, Any], dict[str, jax.Array]]]:
    """The step: the family's update (or the default), EMA, non-finite bookkeeping.

    With on_nonfinite='skip' steps with a non-finite update are counted and training goes on.
    With 'stop' the first bad step is recorded and nothing is updated from then on, so the loop
    can stop at its next sync point; the in-memory state is never checkpointed after that.
    No host round trip either way.
    """
    if on_nonfinite not in ('stop', 'skip'):
        raise ValueError(f"on_nonfinite must be 'stop' or 'skip', got {on_nonfinite!r}")
    update = family.update or default_update(family)

    def step_fn(train_state, batch):
        step = train_state['step']
        ctx = Context(rng=jax.random.fold_in(train_state['rng'], step), step=step)
        nonfinite = dict(train_state['nonfinite'])
        halted = nonfinite['first_bad_step'] >= 0 if on_nonfinite == 'stop' else jnp.array(False)
        tools = UpdateTools(optimizers, on_nonfinite, halted)
        ts = tools.start(train_state['params'], train_state['opt'], train_state['state'])
        ts, metrics = update(tools, ts, batch, ctx)
        metrics = dict(metrics)

        ema = dict(train_state['ema'])
        for player in ema:
            decay = ema_decay_at(ema_decays[player], step)

            def move(operands, decay=decay):
                old, new = operands
                return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, old, new)

            ema[player] = jax.lax.cond(
                ts.guard['applied'][player],
                move,
                lambda operands: operands[0],
                (ema[player], ts.params[player]),
            )

        bad = ts.guard['bad']
        if on_nonfinite == 'stop':
            newly_bad = bad & jnp.logical_not(halted)
            nonfinite['first_bad_step'] = jnp.where(newly_bad, step, nonfinite['first_bad_step'])
        else:
            nonfinite['skipped'] = nonfinite['skipped'] + bad.astype(jnp.int32)
        metrics['nonfinite/skipped'] = nonfinite['skipped']
        metrics['nonfinite/first_bad_step'] = nonfinite['first_bad_step']
        new_state = {
            'params': ts.params,
            'state': ts.state,
            'opt': ts.opt,
            'ema': ema,
            'step': step + 1,
            'rng': train_state['rng'],
            'nonfinite': nonfinite,
        }
        return new_state, metrics

    return step_fn


def eval_variables(train_state: dict[str, Any], use_ema: bool) -> Variables:
    """The variables to evaluate and sample with: EMA params where a player keeps one."""
    params = train_state['params']
    if use_ema:
        params = {p: train_state['ema'].get(p, v) for p, v in params.items()}
    return Variables(params, train_state['state'])


def as_bounds(log_prob: Any) -> dict[str, Any]:
    """`log_prob`'s output as {name: [B]}: a bare array is the headline bound 'log_prob'."""
    if isinstance(log_prob, dict):
        if 'log_prob' not in log_prob:
            raise ValueError(
                f"log_prob returned bounds {sorted(log_prob)}; one must be named 'log_prob' "
                '(the headline test/nll and test/bpd)'
            )
        return log_prob
    return {'log_prob': log_prob}


def make_eval_step(family: Family) -> Callable[..., dict[str, Any]]:
    """Per bound, sums of log-likelihood over the real (mask = 1) rows of a padded batch."""

    def eval_fn(variables, batch, mask, rng):
        real = mask > 0
        out = {'count': jnp.sum(mask)}
        for name, log_prob in as_bounds(family.log_prob(variables, batch, rng)).items():
            # where(), not a product: padding rows may carry -inf and -inf * 0 is nan.
            out[f'{name}/sum'] = jnp.sum(jnp.where(real, log_prob, 0.0))
            out[f'{name}/nonfinite'] = jnp.sum(real & jnp.logical_not(jnp.isfinite(log_prob)))
        return out

    return eval_fn
