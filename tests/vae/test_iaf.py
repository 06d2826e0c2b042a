"""The inverse autoregressive flow: log-determinant against jax.jacfwd, autoregressive structure
by gradient sparsity, and the inverse where it is defined."""

import jax
import jax.numpy as jnp
import numpy as np

from models.vae.iaf import IAF, IAFStep, step_order

DIMS, CONTEXT = 6, 3


def _randomised(module, z, h):
    """Parameters drawn at random (the zero-initialised output layer would make every step a
    plain scaling)."""
    params = module.init(jax.random.PRNGKey(0), z, h)
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    return tree.unflatten(
        [0.5 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves, strict=True)]
    )


def _jacobians(module, params, z, h):
    """[B, D, D] Jacobians of the first output, one example at a time, compiled once."""

    def one(row, context):
        return jax.jacfwd(lambda r: module.apply(params, r[None], context[None])[0][0])(row)

    return np.asarray(jax.jit(jax.vmap(one))(z, h))


def _inputs():
    z = jax.random.normal(jax.random.PRNGKey(2), (3, DIMS))
    h = jax.random.normal(jax.random.PRNGKey(3), (3, CONTEXT))
    return z, h


def test_step_is_autoregressive_in_its_order_with_log_gate_diagonal():
    z, h = _inputs()
    for index in (0, 1):
        order = step_order(DIMS, index)
        step = IAFStep((16, 16), order)
        params = _randomised(step, z, h)
        _, log_s = jax.jit(step.apply)(params, z, h)
        rank = np.empty(DIMS, int)
        rank[order] = np.arange(DIMS)
        jacs = _jacobians(step, params, z, h)
        for b, jac in enumerate(jacs):
            later = rank[None, :] > rank[:, None]  # input j comes after output i in the order
            np.testing.assert_array_equal(np.asarray(jac)[later], 0.0)
            np.testing.assert_allclose(np.diag(jac), np.exp(log_s[b]), rtol=1e-5)
            assert np.all(np.abs(np.asarray(jac)[rank[None, :] < rank[:, None]]) > 0)


def test_stack_log_determinant_matches_jacfwd_and_inverts():
    z, h = _inputs()
    flow = IAF(DIMS, num_steps=3, hidden=(16,))
    params = _randomised(flow, z, h)
    out, logdet = jax.jit(flow.apply)(params, z, h)
    for b, jac in enumerate(_jacobians(flow, params, z, h)):
        np.testing.assert_allclose(logdet[b].sum(), np.linalg.slogdet(jac)[1], rtol=1e-4, atol=1e-5)
    back = jax.jit(lambda p, o, c: flow.apply(p, o, c, method=IAF.inverse))(params, out, h)
    np.testing.assert_allclose(back, z, rtol=1e-4, atol=1e-5)


def test_the_context_reaches_every_dimension_but_the_first_step_starts_near_identity():
    z, h = _inputs()
    flow = IAF(DIMS, num_steps=2, hidden=(16,))
    params = flow.init(jax.random.PRNGKey(0), z, h)
    out, logdet = flow.apply(params, z, h)
    s = jax.nn.sigmoid(1.0)  # the forget bias: m = 0 and s = sigmoid(1) at init
    np.testing.assert_allclose(out, z * s**2, rtol=1e-6)
    params = _randomised(flow, z, h)
    grad = jax.jacfwd(lambda c: flow.apply(params, z[:1], c)[0][0])(h[:1])
    assert np.all(np.abs(np.asarray(grad)).sum(axis=(1, 2)) > 0)
    assert jnp.isfinite(logdet).all()
