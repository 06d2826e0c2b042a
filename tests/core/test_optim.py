"""Optimizers and schedules built from the config do what the config says."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from models.core.config import optimizer
from models.core.optim import make_optimizer, schedule


def test_warmup_then_cosine_to_end_factor():
    lr = schedule(optimizer(lr=1.0, schedule='cosine', warmup_steps=10, end_lr_factor=0.1), 110)
    assert float(lr(0)) == 0.0 and float(lr(5)) == pytest.approx(0.5)
    assert float(lr(10)) == pytest.approx(1.0)
    assert float(lr(60)) == pytest.approx(0.55, rel=1e-5)  # half way down the cosine
    assert float(lr(110)) == pytest.approx(0.1, rel=1e-5)


def test_exponential_and_linear_schedules():
    exp = schedule(optimizer(lr=1.0, schedule='exponential', decay_steps=10, decay_rate=0.5), 100)
    assert float(exp(20)) == pytest.approx(0.25, rel=1e-5)
    lin = schedule(optimizer(lr=2.0, schedule='linear', end_lr_factor=0.0), 100)
    assert float(lin(50)) == pytest.approx(1.0, rel=1e-5)


def test_clipping_bounds_the_update():
    tx = make_optimizer(optimizer(name='sgd', lr=1.0, clip_norm=1.0), 10)
    params = {'w': jnp.zeros(3)}
    grads = {'w': jnp.array([30.0, 40.0, 0.0])}  # norm 50 -> clipped to 1
    updates, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_allclose(updates['w'], [-0.6, -0.8, 0.0], rtol=1e-6)


def test_l2_weight_decay_is_added_to_the_gradient():
    tx = make_optimizer(optimizer(name='sgd', lr=0.1, weight_decay=0.5), 10)
    params = {'w': jnp.array([2.0])}
    updates, _ = tx.update({'w': jnp.array([0.0])}, tx.init(params), params)
    np.testing.assert_allclose(optax.apply_updates(params, updates)['w'], [2.0 - 0.1 * 0.5 * 2.0])


@pytest.mark.parametrize('name', ['adam', 'adamw', 'adamax', 'lamb', 'sgd', 'rmsprop'])
def test_every_optimizer_descends(name):
    tx = make_optimizer(optimizer(name=name, lr=0.05, momentum=0.5), 100)
    params = {'w': jnp.array([3.0, -2.0])}
    state = tx.init(params)
    for _ in range(20):
        grads = {'w': 2 * params['w']}
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    assert float(jnp.sum(params['w'] ** 2)) < 13.0
