"""A few hundred Adam steps of a family's own loss in one compiled scan: enough for a tiny
latent-variable model to have posteriors narrower than its prior, so bits back matter."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from models.core.family import Context, Variables
from models.data.sources import open_split


def digits(num_test: int):
    """The bundled digits: all of train, the first `num_test` of test (int32 levels)."""
    train, spec = open_split('digits8x8', 'train', None)
    test, _ = open_split('digits8x8', 'test', None)
    x_train = jnp.asarray(train.gather(np.arange(len(train)))['image'], jnp.int32)
    x_test = jnp.asarray(test.gather(np.arange(num_test))['image'], jnp.int32)
    return x_train, x_test, spec


def fit(family, x_train, steps: int, batch: int = 64, lr: float = 3e-3):
    params = family.init(jax.random.PRNGKey(0), {'image': x_train[:batch]})
    opt = optax.adam(lr)

    @jax.jit
    def run(params):
        def step(carry, t):
            params, state = carry
            key = jax.random.fold_in(jax.random.PRNGKey(1), t)
            rows = jax.random.randint(key, (batch,), 0, x_train.shape[0])
            ctx = Context(jax.random.fold_in(key, 1), t)
            loss = lambda p: family.loss(Variables(p, {}), {'image': x_train[rows]}, ctx)[0]
            grads = jax.grad(lambda p: loss(p)['model'])(params)
            updates, state = opt.update(grads, state)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), jnp.arange(steps))
        return params

    return run(params)
