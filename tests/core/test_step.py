"""The shared step on hand-computable families: player order, non-finite guards, state, EMA."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from models.core.step import ema_decay_at, make_init, make_train_step
from tests.core import toy_families

BATCH = {'x': jnp.arange(8.0)}


def _run(family, optimizers, steps, ema=None, on_nonfinite='stop', batch=BATCH):
    ema = ema or {}
    state = make_init(family, optimizers, ema)(jax.random.PRNGKey(0), batch)
    step = jax.jit(make_train_step(family, optimizers, ema, on_nonfinite), donate_argnums=0)
    metrics = None
    for _ in range(steps):
        state, metrics = step(state, batch)
    return state, metrics


def test_later_player_sees_earlier_players_update():
    opts = {'a': optax.sgd(0.1), 'b': optax.sgd(0.1)}
    state, metrics = _run(toy_families.two_player(), opts, 1)
    # a: w = 0 - 0.1 * 2 (0 - 1) = 0.2; b then sees w = 0.2: v = 0 - 0.1 * 2 (0 - 0.2) = 0.04.
    np.testing.assert_allclose(state['params']['a']['w'], 0.2, rtol=1e-6)
    np.testing.assert_allclose(state['params']['b']['v'], 0.04, rtol=1e-6)
    np.testing.assert_allclose(metrics['b/loss'], 0.04, rtol=1e-5)  # (0 - 0.2)^2


def test_player_order_follows_optimizer_order():
    opts = {'b': optax.sgd(0.1), 'a': optax.sgd(0.1)}
    state, _ = _run(toy_families.two_player(), opts, 1)
    np.testing.assert_allclose(state['params']['b']['v'], 0.0, atol=1e-7)  # b moved first, w was 0
    np.testing.assert_allclose(state['params']['a']['w'], 0.2, rtol=1e-6)


def test_nonfinite_stop_freezes_state_at_last_good_step():
    # w: 0 -> 0.5 -> 0.95 -> 1.355; the loss at w = 1.355 (step index 3) is NaN.
    opts = {'model': optax.sgd(0.05)}
    state, metrics = _run(toy_families.nan_above(1.0), opts, 6, on_nonfinite='stop')
    assert int(state['nonfinite']['first_bad_step']) == 3
    assert int(metrics['nonfinite/first_bad_step']) == 3
    np.testing.assert_allclose(state['params']['model']['w'], 1.355, rtol=1e-5)
    assert int(state['step']) == 6


def test_nonfinite_skip_counts_and_keeps_params():
    opts = {'model': optax.sgd(0.05)}
    state, metrics = _run(toy_families.nan_above(1.0), opts, 6, on_nonfinite='skip')
    assert int(state['nonfinite']['skipped']) == 3
    assert int(state['nonfinite']['first_bad_step']) == -1
    np.testing.assert_allclose(state['params']['model']['w'], 1.355, rtol=1e-5)
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(state['params']))


def test_state_subtree_is_not_trained_but_updated():
    opts = {'model': optax.adam(0.1)}
    state, _ = _run(toy_families.running_mean(), opts, 3)
    np.testing.assert_allclose(state['params']['model']['state']['mean'], 3.5)
    np.testing.assert_allclose(state['params']['model']['state']['n'], 3.0)
    # The optimizer only carries moments for the trainable 'w'.
    mu = state['opt']['model'][0].mu
    assert set(mu) == {'w'}


def test_ema_follows_debiased_decay():
    opts = {'a': optax.sgd(0.1), 'b': optax.sgd(0.1)}
    state, _ = _run(toy_families.two_player(), opts, 2, ema={'a': 0.9})
    assert set(state['ema']) == {'a'}
    d0, d1 = float(ema_decay_at(0.9, jnp.array(0))), float(ema_decay_at(0.9, jnp.array(1)))
    assert d0 == pytest.approx(0.1) and d1 == pytest.approx(2 / 11)
    w1, w2 = 0.2, 0.2 - 0.1 * 2 * (0.2 - 1.0)
    e1 = d0 * 0.0 + (1 - d0) * w1
    e2 = d1 * e1 + (1 - d1) * w2
    np.testing.assert_allclose(state['ema']['a']['w'], e2, rtol=1e-5)


def test_skip_mode_skips_only_the_bad_player():
    """In 'skip' mode a player with a non-finite loss keeps its state; the others still move."""
    import jax.numpy as jnp

    from models.core.family import Family

    def init(rng, batch):
        return {'a': {'w': jnp.zeros(())}, 'b': {'v': jnp.zeros(())}}

    def loss(params, batch, rng):
        return {'a': params['a']['w'] ** 2 + jnp.nan, 'b': (params['b']['v'] - 1.0) ** 2}, {}

    family = Family(init=init, loss=loss, sample=None)
    opts = {'a': optax.sgd(0.1), 'b': optax.sgd(0.1)}
    state, _ = _run(family, opts, 1, ema={'a': 0.5, 'b': 0.5}, on_nonfinite='skip')
    assert float(state['params']['a']['w']) == 0.0 and float(state['ema']['a']['w']) == 0.0
    np.testing.assert_allclose(state['params']['b']['v'], 0.2, rtol=1e-6)
    assert int(state['nonfinite']['skipped']) == 1
