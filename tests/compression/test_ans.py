"""The rANS core: 64-bit arithmetic on uint32 pairs against Python integers, round trips over
random and extreme tables, codelength against -log2 p, serialisation and error detection."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compression import ans, codecs, tables, u64

U32MAX = 2**32 - 1
words = st.integers(0, U32MAX)


@jax.jit
def _mul32(a, b):
    return u64.mul32(a, b)


@jax.jit
def _divmod(hi, lo, f):
    """Both digit sizes: 8-bit digits for f <= 2^24, 16-bit digits for f <= 2^16."""
    return u64.divmod_small(hi, lo, f, 24), u64.divmod_small(hi, lo, jnp.maximum(f >> 8, 1), 16)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(words, words, st.integers(1, 2**24)), min_size=8, max_size=8))
def test_u64_helpers_match_python_integers(rows):
    a, b, f = (np.array(c, np.uint32) for c in zip(*rows, strict=True))
    hi, lo = _mul32(jnp.asarray(a), jnp.asarray(b))
    wide, narrow = _divmod(jnp.asarray(a), jnp.asarray(b), jnp.asarray(f))
    for i in range(len(rows)):
        x = int(a[i]) * 2**32 + int(b[i])
        assert int(hi[i]) * 2**32 + int(lo[i]) == int(a[i]) * int(b[i])
        for (q_hi, q_lo, r), d in zip(
            (wide, narrow), (int(f[i]), max(int(f[i]) >> 8, 1)), strict=True
        ):
            assert int(q_hi[i]) * 2**32 + int(q_lo[i]) == x // d
            assert int(r[i]) == x % d


PRECISION = 16
SYMBOLS = 40
LEVELS = 9
KINDS = ('random', 'peaked', 'degenerate', 'uniform')
DATA = ('random', 'zeros', 'top', 'unlikely')


@jax.jit
def _code(log_probs, symbols):
    """Push every symbol with its own table, then pop them all: (popped, tables, pushed, back)."""
    cdf = tables.cdf_from_log_probs(log_probs, PRECISION)
    codec = codecs.categorical(cdf, PRECISION)
    start = ans.empty(symbols.shape[0], SYMBOLS)
    pushed = codec.push(start, symbols)
    popped, back = codec.pop(pushed)
    return popped, cdf, pushed, back


def _log_probs(rng, kind, streams):
    shape = (streams, SYMBOLS, LEVELS)
    if kind == 'random':
        return rng.standard_normal(shape) * 3.0
    if kind == 'peaked':  # one symbol holds nearly all mass: the others at the 1/2^16 floor
        return np.broadcast_to(np.where(np.arange(LEVELS) == 4, 0.0, -80.0), shape)
    if kind == 'degenerate':  # -inf, NaN and unnormalised rows
        lp = np.full(shape, -np.inf)
        lp[..., 0] = np.nan
        lp[:, ::2] = 50.0
        return lp
    return np.zeros(shape)  # uniform


def _symbols(rng, data, log_probs):
    if data == 'random':
        return rng.integers(0, LEVELS, log_probs.shape[:2])
    if data == 'unlikely':  # the least likely symbol of every table
        return np.argmin(np.nan_to_num(log_probs, nan=-np.inf), -1)
    return np.full(log_probs.shape[:2], 0 if data == 'zeros' else LEVELS - 1)


def _ideal_bits(cdf, symbols):
    """-log2 of the quantised probabilities, in float64 per stream."""
    freq = np.take_along_axis(np.diff(np.asarray(cdf), axis=-1), np.asarray(symbols)[..., None], -1)
    return (PRECISION - np.log2(freq[..., 0].astype(np.float64))).sum(-1)


@pytest.fixture(scope='module')
def coded():
    """Every (table kind, data kind) pair, two streams each, coded as one interleaved batch:
    (log_probs, symbols, popped, cdf, pushed, back)."""
    rng = np.random.default_rng(0)
    pairs = [(k, d) for k in KINDS for d in DATA]
    log_probs = np.concatenate([_log_probs(rng, k, 2) for k, _ in pairs]).astype(np.float32)
    symbols = np.concatenate(
        [_symbols(rng, d, log_probs[2 * i : 2 * i + 2]) for i, (_, d) in enumerate(pairs)]
    )
    return (log_probs, symbols, *_code(log_probs, symbols))


@jax.jit
def _push(cdf, symbols, stack):
    return codecs.categorical(cdf, PRECISION).push(stack, symbols)


@jax.jit
def _pop(cdf, stack):
    return codecs.categorical(cdf, PRECISION).pop(stack)


def test_round_trip_and_codelength_on_random_and_extreme_tables(coded):
    _, symbols, popped, cdf, pushed, back = coded
    ans.check(pushed)
    ans.check(back)
    np.testing.assert_array_equal(popped, symbols)
    assert ans.same(back, ans.empty(len(symbols), SYMBOLS))
    # The coder's cost against the quantised tables' -log2 p: rANS with a 64-bit head is within
    # a hair of it per symbol, either way (the state's rounding), the head's fraction included.
    ideal = _ideal_bits(cdf, symbols)
    actual = ans.content_bits(pushed)
    assert np.all(np.abs(actual - ideal) <= 1e-3 * SYMBOLS), actual - ideal
    assert ideal.max() > 16 * SYMBOLS * 0.9  # the 'unlikely' rows cost about 16 bits a symbol


def test_serialisation_round_trip_and_refusals(coded):
    pushed = coded[4]
    streams = pushed.num_streams
    data = ans.to_bytes(pushed)
    again = ans.from_bytes(data, SYMBOLS)
    assert ans.same(again, pushed)
    # The stream count, and per stream a length and the whole 64-bit head, which holds only
    # log2(head) - 32 bits of content: 64 to 96 bits per stream beyond the content.
    overhead = len(data) * 8 - ans.content_bits(pushed).sum()
    assert 32 + 64 * streams < overhead <= 32 + 96 * streams
    with pytest.raises(ValueError, match='truncated|claims|whole number'):
        ans.from_bytes(data[:-8], SYMBOLS)
    with pytest.raises(ValueError, match='after the last stream'):
        ans.from_bytes(data + bytes(4), SYMBOLS)
    with pytest.raises(ValueError, match='claims'):
        ans.from_bytes(data, 2)


def test_overflow_underflow_and_bad_symbols_are_flagged(coded):
    _, symbols, _, cdf, _, _ = coded
    streams = len(symbols)
    bad = jnp.asarray(symbols).at[3, 5].set(LEVELS)
    small = _push(cdf, bad, ans.empty(streams, 2))
    flags = np.asarray(small.flags)
    assert np.all(flags & ans.OVERFLOW) and np.flatnonzero(flags & ans.BAD_SYMBOL).tolist() == [3]
    with pytest.raises(ValueError, match=f'bad symbol, overflow on {streams} of {streams}'):
        ans.check(small)
    _, drained = _pop(cdf, ans.empty(streams, 2))
    with pytest.raises(ValueError, match='underflow'):
        ans.check(drained)


def test_a_corrupted_word_decodes_to_other_symbols(coded):
    """rANS has no checksum of its own (the container will); changing one tail word changes
    what pops out, and the decoder does not come back to the empty stack."""
    _, symbols, _, cdf, pushed, _ = coded
    broken = pushed._replace(words=pushed.words.at[:, 1].add(jnp.uint32(12345)))
    popped, back = _pop(cdf, broken)
    assert not np.array_equal(popped, symbols)
    assert not ans.same(back, ans.empty(len(symbols), SYMBOLS))
