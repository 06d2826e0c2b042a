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


def test_loop_state_is_not_trained_or_averaged_but_updated():
    opts = {'model': optax.adam(0.1)}
    state, _ = _run(toy_families.running_mean(), opts, 3, ema={'model': 0.9})
    np.testing.assert_allclose(state['state']['mean'], 3.5)
    np.testing.assert_allclose(state['state']['n'], 3.0)
    # The optimizer and the EMA only carry the trainable 'w'.
    assert set(state['params']['model']) == {'w'}
    assert set(state['opt']['model'][0].mu) == {'w'}
    assert set(state['ema']['model']) == {'w'}


def test_loss_sees_the_step_number_and_one_key_per_step():
    family = toy_families.context_probe()
    opts = {'a': optax.sgd(0.1), 'b': optax.sgd(0.1)}
    state = make_init(family, opts, {})(jax.random.PRNGKey(0), BATCH)
    step = jax.jit(make_train_step(family, opts, {}))
    draws = []
    for t in range(3):
        expected = jax.random.uniform(jax.random.fold_in(state['rng'], t))
        state, metrics = step(state, BATCH)
        assert float(metrics['step_seen']) == t
        np.testing.assert_array_equal(metrics['draw'], expected)  # the same key for both players
        draws.append(float(metrics['draw']))
    assert len(set(draws)) == 3


def test_family_update_runs_minibatch_epochs_like_a_hand_written_loop():
    """A family that owns its update (K epochs of shuffled minibatches, as PPO does) matches a
    plain Python loop over the same minibatches with the same optax optimizer."""
    epochs, minibatches = 3, 4
    family = toy_families.minibatch_epochs(epochs, minibatches)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    batch = {'x': jnp.asarray(x), 'y': jnp.asarray(x @ np.array([1.0, -2.0, 0.5], np.float32) + 3)}
    opt = optax.adam(0.05)
    state = make_init(family, {'model': opt}, {})(jax.random.PRNGKey(0), batch)
    train_step = jax.jit(make_train_step(family, {'model': opt}, {}))

    params = jax.tree.map(np.asarray, state['params']['model'])
    opt_state = opt.init(params)
    steps = 2
    for t in range(steps):
        step_key = jax.random.fold_in(state['rng'], t)
        for key in jax.random.split(step_key, epochs):
            order = np.asarray(jax.random.permutation(key, 16)).reshape(minibatches, -1)
            for rows in order:
                xb, yb = batch['x'][rows], batch['y'][rows]
                grads = jax.grad(
                    lambda p, xb=xb, yb=yb: jnp.mean((xb @ p['w'] + p['b'] - yb) ** 2)
                )(params)
                updates, opt_state = opt.update(grads, opt_state, params)
                params = optax.apply_updates(params, updates)
    for _ in range(steps):
        state, metrics = train_step(state, batch)
    np.testing.assert_allclose(state['params']['model']['w'], params['w'], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state['params']['model']['b'], params['b'], rtol=1e-5, atol=1e-6)
    # 2 steps x 3 epochs x 4 minibatches = 24 adam updates, counted by the optimizer itself.
    assert int(state['opt']['model'][0].count) == steps * epochs * minibatches


def test_family_update_guard_skips_a_nonfinite_minibatch():
    family = toy_families.minibatch_epochs(1, 2)
    batch = {'x': jnp.ones((4, 1)), 'y': jnp.array([1.0, 1.0, jnp.nan, 1.0])}
    opts = {'model': optax.sgd(0.1)}
    state = make_init(family, opts, {'model': 0.5})(jax.random.PRNGKey(0), batch)
    state, _ = jax.jit(make_train_step(family, opts, {'model': 0.5}, 'skip'))(state, batch)
    assert int(state['nonfinite']['skipped']) == 1
    assert np.isfinite(np.asarray(state['params']['model']['w'])).all()
    # A player with a skipped update this step keeps its EMA.
    np.testing.assert_array_equal(state['ema']['model']['w'], 0.0)


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

    def loss(variables, batch, ctx):
        params = variables.params
        losses = {'a': params['a']['w'] ** 2 + jnp.nan, 'b': (params['b']['v'] - 1.0) ** 2}
        return losses, {}, variables.state

    family = Family(init=init, loss=loss, sample=None)
    opts = {'a': optax.sgd(0.1), 'b': optax.sgd(0.1)}
    state, _ = _run(family, opts, 1, ema={'a': 0.5, 'b': 0.5}, on_nonfinite='skip')
    assert float(state['params']['a']['w']) == 0.0 and float(state['ema']['a']['w']) == 0.0
    np.testing.assert_allclose(state['params']['b']['v'], 0.2, rtol=1e-6)
    assert int(state['nonfinite']['skipped']) == 1
