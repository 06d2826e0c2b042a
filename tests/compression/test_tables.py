"""Quantised tables: exact sums, every symbol codable, and the same table for a row whatever
batch it sits in."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from compression import tables

LEVELS = 17


@functools.partial(jax.jit, static_argnums=1)
def _cdf(log_probs, precision):
    return tables.cdf_from_log_probs(log_probs, precision)


def _assert_valid(cdf, precision):
    cdf = np.asarray(cdf)
    assert np.all(cdf[..., 0] == 0) and np.all(cdf[..., -1] == 2**precision)
    assert np.all(np.diff(cdf, axis=-1) >= 1)


finite_or_extreme = st.one_of(
    st.floats(-1e4, 1e4, width=32), st.sampled_from([-np.inf, np.inf, np.nan, -1e30, 0.0])
)


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float32, (4, LEVELS), elements=finite_or_extreme))
def test_every_table_sums_exactly_with_every_symbol_codable(log_probs):
    for precision in (8, 24):
        _assert_valid(_cdf(jnp.asarray(log_probs), precision), precision)


def test_tables_follow_the_probabilities_and_do_not_depend_on_the_batch():
    logits = 3.0 * np.random.default_rng(0).standard_normal((64, LEVELS), np.float32)
    log_probs = jax.nn.log_softmax(logits, -1)
    cdf = _cdf(log_probs, 16)
    _assert_valid(cdf, 16)
    freq = np.diff(np.asarray(cdf), axis=-1) / 2**16
    np.testing.assert_allclose(freq, np.exp(log_probs), atol=LEVELS / 2**16 + 1e-6)
    # Rows coded alone, in another batch size, or in another order give bit-identical tables.
    alone = np.concatenate([np.asarray(_cdf(log_probs[i : i + 8], 16)) for i in range(0, 64, 8)])
    np.testing.assert_array_equal(alone, cdf)
    perm = np.random.default_rng(0).permutation(64)
    np.testing.assert_array_equal(np.asarray(_cdf(log_probs[perm], 16)), np.asarray(cdf)[perm])


def test_bucket_tables_from_a_continuous_cdf():
    edges = jnp.linspace(-3.0, 3.0, 255)
    c = jax.scipy.stats.norm.cdf(edges[None, :], loc=jnp.array([[0.0], [2.9], [40.0]]))
    cdf = np.asarray(jax.jit(tables.cdf_from_edges, static_argnums=1)(c, 16))
    _assert_valid(cdf, 16)
    assert cdf[2, -2] == 255  # all the mass far to the right: the last bucket holds the rest


def test_too_many_symbols_for_the_precision_are_refused():
    with pytest.raises(ValueError, match='need precision >= 10'):
        tables.cdf_from_log_probs(jnp.zeros((2, 256)), 9)
