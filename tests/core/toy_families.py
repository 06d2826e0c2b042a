"""Tiny hand-computable families that exercise the shared step and loop
(config.model = 'tests.core.toy_families')."""

import time

import jax
import jax.numpy as jnp

from models.baselines import pixel_categorical
from models.core import images
from models.core.family import Evaluation, Family, Variables


def _no_sample(variables, rng, num):
    return jnp.zeros((num, 2))


def two_player() -> Family:
    """Player a pulls w to 1; player b pulls v to a's w, so b must see a's *updated* w."""

    def init(rng, batch):
        return {'a': {'w': jnp.zeros(())}, 'b': {'v': jnp.zeros(())}}

    def loss(variables, batch, ctx):
        w, v = variables.params['a']['w'], variables.params['b']['v']
        return {'a': (w - 1.0) ** 2, 'b': (v - w) ** 2}, {'w': w, 'v': v}, variables.state

    return Family(init=init, loss=loss, sample=_no_sample, render=images.save_points)


def nan_above(threshold: float = 1.0) -> Family:
    """Loss (w - 5)^2 that turns NaN once w exceeds `threshold`."""

    def init(rng, batch):
        return {'model': {'w': jnp.zeros(())}}

    def loss(variables, batch, ctx):
        w = variables.params['model']['w']
        poison = jnp.where(w > threshold, jnp.nan, 0.0)
        return {'model': (w - 5.0) ** 2 + poison}, {}, variables.state

    return Family(init=init, loss=loss, sample=_no_sample, render=images.save_points)


def running_mean() -> Family:
    """Fits w to the batch mean while keeping a non-trainable running mean of the data."""

    def init(rng, batch):
        return Variables(
            {'model': {'w': jnp.zeros(())}}, {'mean': jnp.zeros(()), 'n': jnp.zeros(())}
        )

    def loss(variables, batch, ctx):
        state = variables.state
        x = batch['x'].mean()
        n = state['n'] + 1.0
        mean = state['mean'] + (x - state['mean']) / n
        return {'model': (variables.params['model']['w'] - x) ** 2}, {}, {'mean': mean, 'n': n}

    return Family(init=init, loss=loss, sample=_no_sample, render=images.save_points)


def context_probe() -> Family:
    """Reports what the loss was given (step number, key) as metrics."""

    def init(rng, batch):
        return {'a': {'w': jnp.zeros(())}, 'b': {'v': jnp.zeros(())}}

    def loss(variables, batch, ctx):
        p = variables.params
        draw = jax.random.uniform(ctx.rng)
        metrics = {'step_seen': ctx.step.astype(jnp.float32), 'draw': draw}
        return {'a': p['a']['w'] ** 2, 'b': p['b']['v'] ** 2}, metrics, variables.state

    return Family(init=init, loss=loss, sample=_no_sample, render=images.save_points)


def minibatch_epochs(epochs: int = 3, minibatches: int = 4) -> Family:
    """Least squares fitted by `epochs` passes of `minibatches` shuffled minibatch updates per step,
    like PPO's inner loop: the family owns its update and runs it as one `lax.scan` nest."""

    def init(rng, batch):
        return {'model': {'w': jnp.zeros((batch['x'].shape[-1],)), 'b': jnp.zeros(())}}

    def minibatch_loss(params, x, y):
        return jnp.mean((x @ params['w'] + params['b'] - y) ** 2)

    def loss(variables, batch, ctx):
        value = minibatch_loss(variables.params['model'], batch['x'], batch['y'])
        return {'model': value}, {}, variables.state

    def update(tools, ts, batch, ctx):
        size = batch['x'].shape[0]

        def epoch(ts, key):
            order = jax.random.permutation(key, size).reshape(minibatches, -1)

            def one(ts, rows):
                x, y = batch['x'][rows], batch['y'][rows]
                value, grads = jax.value_and_grad(minibatch_loss)(ts.params['model'], x, y)
                ts, _ = tools.apply_gradients(ts, 'model', grads, value)
                return ts, value

            return jax.lax.scan(one, ts, order)

        ts, values = jax.lax.scan(epoch, ts, jax.random.split(ctx.rng, epochs))
        return ts, {'model/loss': values[-1].mean(), 'model/first_minibatch_loss': values[0, 0]}

    return Family(init=init, loss=loss, sample=_no_sample, update=update)


def random_walkers(num_walkers: int = 8, target: float = 2.0) -> Family:
    """No dataset: `num_walkers` environments in the loop state, one row each, split over the
    devices. Each step every walker moves by the policy's drift plus noise; the policy learns
    the drift that carries the walkers' mean position to `target`."""

    def init(rng, batch):
        assert batch is None, 'a family without a dataset gets no batch'
        state = {'position': jnp.zeros((num_walkers,)), 'episodes': jnp.zeros((), jnp.int32)}
        return Variables({'policy': {'drift': jnp.zeros(())}}, state)

    def step_walkers(variables, rng):
        noise = 0.1 * jax.random.normal(rng, (num_walkers,))
        return variables.state['position'] + variables.params['policy']['drift'] + noise

    def loss(variables, batch, ctx):
        moved = step_walkers(variables, ctx.rng)
        value = (jnp.mean(moved) - target) ** 2
        # A walker that passes 2 * target starts again at 0 (an episode ends).
        done = jax.lax.stop_gradient(moved) > 2 * target
        new_state = {
            'position': jnp.where(done, 0.0, jax.lax.stop_gradient(moved)),
            'episodes': variables.state['episodes'] + jnp.sum(done).astype(jnp.int32),
        }
        return {'policy': value}, {'mean_position': jnp.mean(moved)}, new_state

    def outputs(variables, batch, rng):
        return {'position': step_walkers(variables, rng)}

    def summarize(rows):
        return {'eval/mean_position': float(rows['position'].mean())}

    def state_sharding(state):
        return {'position': True, 'episodes': False}

    def sample(variables, rng, num):
        return {'position': jnp.broadcast_to(variables.state['position'][:1], (num,))}

    def render(path, samples):
        # Not an image: the family writes its own picture (here, the numbers themselves).
        with open(path, 'w') as f:
            f.write(' '.join(f'{p:.4f}' for p in samples['position']))

    return Family(
        init=init,
        loss=loss,
        sample=sample,
        evaluation=Evaluation(outputs, summarize),
        render=render,
        state_sharding=state_sharding,
    )


def noisy_bounds(data_spec) -> Family:
    """A uniform model of the data with two bounds: the exact 'log_prob' and an 'elbo' that
    subtracts a Uniform[0, 1) draw per example, so its value depends on the eval key."""
    num_dims = 1
    for s in data_spec.shape:
        num_dims *= s

    def init(rng, batch):
        return {'model': {'w': jnp.zeros(())}}

    def loss(variables, batch, ctx):
        return {'model': variables.params['model']['w'] ** 2}, {}, variables.state

    def log_prob(variables, batch, rng):
        rows = batch[data_spec.key].shape[0]
        exact = jnp.full((rows,), -num_dims * jnp.log(float(data_spec.num_levels)))
        return {'log_prob': exact, 'elbo': exact - jax.random.uniform(rng, (rows,))}

    return Family(init=init, loss=loss, sample=_no_sample, log_prob=log_prob)


def aux_reader(data_spec, aux_specs) -> Family:
    """Fits w to the mean label of the 'labelled' auxiliary rows; reports what it read."""
    assert set(aux_specs) == {'labelled'}, aux_specs

    def init(rng, batch):
        return {'model': {'w': jnp.zeros(())}}

    def loss(variables, batch, ctx):
        labels = batch['aux']['labelled']['label'].astype(jnp.float32)
        value = (variables.params['model']['w'] - labels.mean()) ** 2
        metrics = {'aux/rows': jnp.float32(labels.shape[0]), 'aux/label_mean': labels.mean()}
        return {'model': value}, metrics, variables.state

    return Family(init=init, loss=loss, sample=_no_sample, render=images.save_points)


def slow_categorical(data_spec, delay: float = 0.03) -> Family:
    """The per-pixel baseline with a host-side pause per step, so a test can kill it mid-run."""
    base = pixel_categorical.make(data_spec)

    def loss(variables, batch, ctx):
        jax.debug.callback(lambda: time.sleep(delay))
        return base.loss(variables, batch, ctx)

    return base._replace(loss=loss)


def fragile_eval(data_spec, crash_marker: str) -> Family:
    """The per-pixel baseline whose evaluation dies (as a kill would) while `crash_marker` exists,
    removing it, so the next run goes through."""
    import os

    def outputs(variables, batch, rng):
        return {'rows': jnp.ones(batch[data_spec.key].shape[:1])}

    def summarize(rows):
        if os.path.exists(crash_marker):
            os.remove(crash_marker)
            raise RuntimeError('simulated kill during evaluation')
        return {'test/rows': float(rows['rows'].sum())}

    base = pixel_categorical.make(data_spec)
    return base._replace(evaluation=Evaluation(outputs, summarize))


def make(data_spec=None, aux_specs=None, kind: str = 'two_player', **kw) -> Family:
    if kind == 'slow_categorical':
        return slow_categorical(data_spec, **kw)
    if kind == 'fragile_eval':
        return fragile_eval(data_spec, **kw)
    if kind == 'noisy_bounds':
        return noisy_bounds(data_spec)
    if kind == 'aux_reader':
        return aux_reader(data_spec, aux_specs)
    kinds = {
        'two_player': two_player,
        'nan_above': nan_above,
        'running_mean': running_mean,
        'context_probe': context_probe,
        'minibatch_epochs': minibatch_epochs,
        'random_walkers': random_walkers,
    }
    return kinds[kind](**kw)
