"""The small combinators: `serial` of a Bernoulli and a uniform codec round-trips in one
compiled program, pops in reverse, and costs -log2 p (the categorical codec under the
Bernoulli is tested on its own in test_ans)."""

import jax
import numpy as np

from compression import ans, codecs

STREAMS, PRECISION = 8, 16


@jax.jit
def _code(logits, bits, uniform):
    codec = codecs.serial(
        codecs.bernoulli(logits, PRECISION),
        codecs.uniform((3,), 7),
    )
    start = ans.empty(STREAMS, 16)
    pushed = codec.push(start, (bits, uniform))
    popped, back = codec.pop(pushed)
    return pushed, popped, back


def test_serial_round_trip_and_cost():
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 3.0, (STREAMS, 5)).astype(np.float32)
    bits = (rng.random((STREAMS, 5)) < 1 / (1 + np.exp(-logits))).astype(np.int32)
    uniform = rng.integers(0, 128, (STREAMS, 3), dtype=np.int32)
    pushed, popped, back = _code(logits, bits, uniform)
    ans.check(pushed)
    for got, want in zip(popped, (bits, uniform), strict=True):
        np.testing.assert_array_equal(got, want)
    assert ans.same(back, ans.empty(STREAMS, 16))
    signed = np.where(bits == 1, logits, -logits).astype(np.float64)
    exact = np.log2(1 + np.exp(-signed)).sum(-1) + 3 * 7
    # 8 symbols per stream; quantisation at 2^-16 moves each by well under 0.01 bits here.
    np.testing.assert_allclose(ans.content_bits(pushed), exact, atol=0.05)
