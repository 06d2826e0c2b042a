"""The math the flows and the autoregressive models share: weight norm with data-dependent init,
the gated residual branch and dropout."""

import jax
import jax.numpy as jnp
import numpy as np

from models.layers.dropout import dropout
from models.layers.gated import concat_elu, gated_linear, gated_residual_branch, gated_tanh
from models.layers.weight_norm import data_dependent_init, normalised


def test_normalised_rows_have_the_gain_as_norm():
    v = jax.random.normal(jax.random.PRNGKey(0), (3, 3, 4, 5))
    g = jnp.arange(1.0, 6.0)
    w = normalised(v, g)
    np.testing.assert_allclose(jnp.sqrt(jnp.sum(w**2, axis=(0, 1, 2))), g, rtol=1e-5)


def test_data_dependent_init_standardises_and_spares_constant_units():
    t = jax.random.normal(jax.random.PRNGKey(1), (64, 8, 8, 3)) * 3.0 + 2.0
    t = t.at[..., 2].set(5.0)  # a unit that never varies over the init batch
    g, b = data_dependent_init(t, init_scale=0.5)
    out = t * g + b
    np.testing.assert_allclose(out[..., :2].mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out[..., :2].std(axis=(0, 1, 2)), 0.5, rtol=1e-4)
    assert float(g[2]) == 1.0 and float(b[2]) == -5.0


def test_gated_residual_branch_is_the_pixelcnnpp_formula():
    x = jax.random.normal(jax.random.PRNGKey(2), (2, 4, 4, 3))
    skip = jax.random.normal(jax.random.PRNGKey(3), (2, 4, 4, 5))
    w1 = jax.random.normal(jax.random.PRNGKey(4), (6, 3))
    w2 = jax.random.normal(jax.random.PRNGKey(5), (6, 6))
    ws = jax.random.normal(jax.random.PRNGKey(6), (10, 3))
    got = gated_residual_branch(
        x, lambda h: h @ w1, lambda h: h @ w2, lambda h: h, skip, lambda h: h @ ws
    )
    h = jax.nn.elu(jnp.concatenate([x, -x], -1)) @ w1
    h = h + jax.nn.elu(jnp.concatenate([skip, -skip], -1)) @ ws
    a, b = jnp.split(jax.nn.elu(jnp.concatenate([h, -h], -1)) @ w2, 2, axis=-1)
    np.testing.assert_allclose(got, a * jax.nn.sigmoid(b), rtol=1e-5, atol=1e-5)
    assert concat_elu(x).shape == (2, 4, 4, 6)
    np.testing.assert_allclose(gated_tanh(jnp.array([1.0, 2.0])), np.tanh(1) / (1 + np.exp(-2)))
    np.testing.assert_allclose(gated_linear(jnp.array([1.0, 2.0])), 1 / (1 + np.exp(-2)))


def test_dropout_keeps_the_mean_and_is_off_without_a_key():
    x = jnp.ones((100_000,))
    assert dropout(x, 0.5, None) is x
    dropped = dropout(x, 0.3, jax.random.PRNGKey(7))
    assert abs(float((dropped == 0).mean()) - 0.3) < 0.01
    np.testing.assert_allclose(float(dropped.mean()), 1.0, atol=0.01)
