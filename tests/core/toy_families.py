"""Tiny hand-computable families that exercise the shared step (found as 'tests.core.toy_families')."""

import time

import jax
import jax.numpy as jnp

from models.baselines import pixel_categorical
from models.core.family import STATE_KEY, STATE_UPDATES_KEY, Family


def _no_sample(params, rng, num):
    return jnp.zeros((num, 2))


def two_player() -> Family:
    """Player a pulls w to 1; player b pulls v to a's w, so b must see a's *updated* w."""

    def init(rng, batch):
        return {'a': {'w': jnp.zeros(())}, 'b': {'v': jnp.zeros(())}}

    def loss(params, batch, rng):
        w, v = params['a']['w'], params['b']['v']
        return {'a': (w - 1.0) ** 2, 'b': (v - w) ** 2}, {'w': w, 'v': v}

    return Family(init=init, loss=loss, sample=_no_sample)


def nan_above(threshold: float = 1.0) -> Family:
    """Loss (w - 5)^2 that turns NaN once w exceeds `threshold`."""

    def init(rng, batch):
        return {'model': {'w': jnp.zeros(())}}

    def loss(params, batch, rng):
        w = params['model']['w']
        poison = jnp.where(w > threshold, jnp.nan, 0.0)
        return {'model': (w - 5.0) ** 2 + poison}, {}

    return Family(init=init, loss=loss, sample=_no_sample)


def running_mean() -> Family:
    """Fits w to the batch mean while keeping a non-trainable running mean of the data."""

    def init(rng, batch):
        return {
            'model': {'w': jnp.zeros(()), STATE_KEY: {'mean': jnp.zeros(()), 'n': jnp.zeros(())}}
        }

    def loss(params, batch, rng):
        p = params['model']
        x = batch['x'].mean()
        n = p[STATE_KEY]['n'] + 1.0
        mean = p[STATE_KEY]['mean'] + (x - p[STATE_KEY]['mean']) / n
        return {'model': (p['w'] - x) ** 2}, {STATE_UPDATES_KEY: {'model': {'mean': mean, 'n': n}}}

    return Family(init=init, loss=loss, sample=_no_sample)


def slow_categorical(data_spec, delay: float = 0.03) -> Family:
    """The per-pixel baseline with a host-side pause per step, so a test can kill it mid-run."""
    base = pixel_categorical.make(data_spec)

    def loss(params, batch, rng):
        losses, metrics = base.loss(params, batch, rng)
        jax.debug.callback(lambda: time.sleep(delay))
        return losses, metrics

    return base._replace(loss=loss)


def make(data_spec=None, kind: str = 'two_player', **kw) -> Family:
    if kind == 'slow_categorical':
        return slow_categorical(data_spec, **kw)
    return {'two_player': two_player, 'nan_above': nan_above, 'running_mean': running_mean}[kind](
        **kw
    )
