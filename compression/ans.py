"""rANS with stack (last-in, first-out) semantics over many interleaved streams, in JAX.

Duda's range variant of asymmetric numeral systems, as in ryg's `rans64` and craystack
(Townsend et al. 2019): one coder state per stream, so a batch of S examples codes in parallel
(one symbol per stream per call) and every call runs inside `jit`, `lax.scan` and `fori_loop`
(the autoregressive decoder pops inside its model scan).

Design (exact integer arithmetic, no x64):
- Each stream's head x is 64 bits held as two uint32 words (`compression.u64`), kept in
  [2^32, 2^64); the tail is a fixed-capacity buffer of 32-bit words `words[S, capacity]` with a
  per-stream `size`. JAX's uint64 needs the process-wide `jax_enable_x64`, which this repository
  keeps off.
- Probabilities are integers over 2^precision with precision <= 24: the 64-bit head leaves at
  least 2^(32 - precision) >= 256 between the state and a symbol's frequency, so the coder's own
  overhead is below about 2^-8 / ln 2 bits per symbol at precision 24 and far smaller below.
- push(start, freq) emits the low word when x >= freq * 2^(64 - precision) and then
  x <- (x // freq) * 2^precision + x % freq + start; pop inverts both steps exactly.
- Errors do not raise inside `jit`: `flags` collects per-stream bits (OVERFLOW: a push past the
  capacity; UNDERFLOW: a pop from an empty tail; BAD_SYMBOL: a symbol of zero frequency), and
  `check` raises on the host.

Bits. `content_bits` is the information a stream holds: 32 per tail word plus log2(x) - 32 for
the head (an empty stream holds 0). The serialised form (`to_bytes`) writes a 32-bit stream
count, and per stream a 32-bit length and the whole 64-bit head: 64 to 96 bits per stream more
than `content_bits`. A codec's cost is the
difference of `content_bits` after and before; bits-back coding starts from a stack holding
random `initial_words` (the initial bits), reported apart from the net rate.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from compression import u64

U32 = jnp.uint32
MAX_PRECISION = 24
OVERFLOW, UNDERFLOW, BAD_SYMBOL = 1, 2, 4
FLAG_NAMES = {OVERFLOW: 'overflow', UNDERFLOW: 'underflow', BAD_SYMBOL: 'bad symbol'}
EMPTY_HEAD = (1, 0)  # x = 2^32, the lower end of the head's interval


class Stack(NamedTuple):
    """S interleaved rANS streams. A pytree: it goes through jit, scan and fori_loop."""

    hi: jax.Array  # [S] uint32, high word of the head
    lo: jax.Array  # [S] uint32, low word of the head
    words: jax.Array  # [S, capacity] uint32, the tail; words[s, :size[s]] are in use
    size: jax.Array  # [S] int32
    flags: jax.Array  # [S] int32, OVERFLOW | UNDERFLOW | BAD_SYMBOL

    @property
    def num_streams(self) -> int:
        return self.hi.shape[0]

    @property
    def capacity(self) -> int:
        return self.words.shape[1]


def empty(num_streams: int, capacity: int) -> Stack:
    return Stack(
        hi=jnp.full((num_streams,), EMPTY_HEAD[0], U32),
        lo=jnp.full((num_streams,), EMPTY_HEAD[1], U32),
        words=jnp.zeros((num_streams, capacity), U32),
        size=jnp.zeros((num_streams,), jnp.int32),
        flags=jnp.zeros((num_streams,), jnp.int32),
    )


def with_initial_words(stack: Stack, seed: int, num_words: int) -> Stack:
    """Fills an empty stack's heads and `num_words` tail words per stream with uniformly random
    bits: the initial bits that bits-back coding pops its first latents from (about
    32 * num_words + 32 per stream, `content_bits`). A random head matters: the empty head 2^32
    has zero low bits, and the first pop from it would always return the first symbol. Drawn
    on the host from `seed` (NumPy's PCG64): the same bits on every platform."""
    if num_words > stack.capacity:
        raise ValueError(f'ans: {num_words} initial words exceed the capacity {stack.capacity}')
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 2**32, (stack.num_streams, num_words + 2), dtype=np.uint32)
    words = stack.words.at[:, :num_words].set(noise[:, :num_words])
    hi = np.maximum(noise[:, num_words], 1)  # the head stays in [2^32, 2^64)
    return stack._replace(
        hi=jnp.asarray(hi),
        lo=jnp.asarray(noise[:, num_words + 1]),
        words=words,
        size=jnp.full_like(stack.size, num_words),
    )


def take(stack: Stack, streams) -> Stack:
    """The stack of the given streams only: streams are independent, so a batch encoded
    together can be decoded in parts (another batch size, other devices)."""
    return jax.tree.map(lambda a: a[np.asarray(streams)], stack)


def concatenate(stacks) -> Stack:
    return jax.tree.map(lambda *a: jnp.concatenate(a), *stacks)


def _check_precision(precision: int):
    if not 1 <= precision <= MAX_PRECISION:
        raise ValueError(f'ans: precision must be in [1, {MAX_PRECISION}], got {precision}')


def push(stack: Stack, start, freq, precision: int) -> Stack:
    """Pushes one symbol per stream, given as its interval [start, start + freq) of
    [0, 2^precision) (uint32 [S]). A zero freq sets BAD_SYMBOL and leaves the state alone."""
    _check_precision(precision)
    start, freq = start.astype(U32), freq.astype(U32)
    bad = freq == 0
    safe = jnp.where(bad, U32(1), freq)
    hi, lo = stack.hi, stack.lo
    # x >= freq * 2^(64 - p)  <=>  hi >= freq * 2^(32 - p)  <=>  hi >> (32 - p) >= freq, the
    # last form free of overflow when freq = 2^p (a one-symbol table never emits).
    emit = ((hi >> (32 - precision)) >= safe) & ~bad
    rows = jnp.arange(stack.num_streams)
    overflow = emit & (stack.size >= stack.capacity)
    slot = jnp.minimum(stack.size, stack.capacity - 1)
    # A stream that overflows keeps its buffer as it was (its message is lost and flagged).
    write = emit & ~overflow
    words = stack.words.at[rows, slot].set(jnp.where(write, lo, stack.words[rows, slot]))
    hi, lo = jnp.where(emit, U32(0), hi), jnp.where(emit, hi, lo)
    q_hi, q_lo, r = u64.divmod_small(hi, lo, safe, precision)  # freq <= 2^precision
    new_hi, new_lo = u64.shift_left(q_hi, q_lo, precision)
    new_lo = new_lo | (r + start)  # r + start < 2^p: fills the low bits the shift cleared
    flags = stack.flags | jnp.where(overflow, OVERFLOW, 0) | jnp.where(bad, BAD_SYMBOL, 0)
    return Stack(
        hi=jnp.where(bad, stack.hi, new_hi),
        lo=jnp.where(bad, stack.lo, new_lo),
        words=words,
        size=stack.size + write.astype(jnp.int32),
        flags=flags,
    )


def peek(stack: Stack, precision: int):
    """The slot in [0, 2^precision) that the next pop's symbol interval must contain."""
    _check_precision(precision)
    return stack.lo & U32((1 << precision) - 1)


def pop(stack: Stack, start, freq, precision: int) -> Stack:
    """Removes the symbol whose interval [start, start + freq) holds `peek(stack)`; the caller
    looks the interval up from the slot (`compression.codecs`)."""
    _check_precision(precision)
    start, freq = start.astype(U32), freq.astype(U32)
    slot = peek(stack, precision)
    bad = (freq == 0) | (slot < start) | (slot - start >= freq)
    hi, lo = u64.shift_right(stack.hi, stack.lo, precision)
    hi, lo = u64.mul_small(hi, lo, freq)
    hi, lo = u64.add_small(hi, lo, slot - start)
    need = hi == 0
    underflow = need & (stack.size == 0)
    size = stack.size - (need & ~underflow).astype(jnp.int32)
    word = stack.words[jnp.arange(stack.num_streams), jnp.maximum(size, 0)]
    word = jnp.where(underflow, U32(0), word)
    hi, lo = jnp.where(need, lo, hi), jnp.where(need, word, lo)
    flags = stack.flags | jnp.where(underflow, UNDERFLOW, 0) | jnp.where(bad, BAD_SYMBOL, 0)
    return Stack(hi=hi, lo=lo, words=stack.words, size=size, flags=flags)


def content_bits(stack: Stack) -> np.ndarray:
    """[S] float64 bits each stream holds: 32 per tail word + log2(head) - 32."""
    hi = np.asarray(stack.hi).astype(np.float64)
    lo = np.asarray(stack.lo).astype(np.float64)
    size = np.asarray(stack.size).astype(np.float64)
    return 32.0 * size + np.log2(hi * 2.0**32 + lo) - 32.0


def check(stack: Stack, what: str = 'ans') -> None:
    """Raises on the host if any stream set an error flag."""
    flags = np.asarray(stack.flags)
    if flags.any():
        bad = np.flatnonzero(flags)
        names = sorted({FLAG_NAMES[b] for f in flags[bad] for b in FLAG_NAMES if f & b})
        raise ValueError(
            f'{what}: {", ".join(names)} on {bad.size} of {flags.size} streams '
            f'(first: stream {bad[0]})'
        )


def same(a: Stack, b: Stack) -> bool:
    """True if the two stacks hold the same messages (heads and the used part of every tail)."""
    if a.num_streams != b.num_streams:
        return False
    heads = np.array_equal(np.asarray(a.hi), np.asarray(b.hi)) and np.array_equal(
        np.asarray(a.lo), np.asarray(b.lo)
    )
    return heads and _serialise(a) == _serialise(b)


def to_bytes(stack: Stack) -> bytes:
    """Little-endian uint32 words: S, then per stream its size, its tail words, hi, lo.
    Refuses a stack with error flags (its content is not a message)."""
    check(stack, 'ans.to_bytes')
    return _serialise(stack)


def _serialise(stack: Stack) -> bytes:
    hi, lo = np.asarray(stack.hi), np.asarray(stack.lo)
    words, size = np.asarray(stack.words), np.asarray(stack.size)
    parts = [np.array([stack.num_streams], np.uint32)]
    for s in range(stack.num_streams):
        parts += [np.array([size[s]], np.uint32), words[s, : size[s]], np.array([hi[s], lo[s]])]
    return np.concatenate([p.astype('<u4') for p in parts]).tobytes()


def from_bytes(data: bytes, capacity: int) -> Stack:
    """The inverse of `to_bytes`; refuses truncated or malformed input with a ValueError."""
    if len(data) % 4 or len(data) < 4:
        raise ValueError(f'ans.from_bytes: {len(data)} bytes is not a whole number of words')
    flat = np.frombuffer(data, '<u4')
    num_streams, pos = int(flat[0]), 1
    hi, lo = np.zeros(num_streams, np.uint32), np.zeros(num_streams, np.uint32)
    words = np.zeros((num_streams, capacity), np.uint32)
    size = np.zeros(num_streams, np.int32)
    for s in range(num_streams):
        if pos >= flat.size:
            raise ValueError(f'ans.from_bytes: truncated at stream {s} of {num_streams}')
        n = int(flat[pos])
        if n > capacity or pos + 3 + n > flat.size:
            raise ValueError(
                f'ans.from_bytes: stream {s} claims {n} words; capacity {capacity}, '
                f'{flat.size - pos - 1} words left'
            )
        words[s, :n] = flat[pos + 1 : pos + 1 + n]
        size[s], hi[s], lo[s] = n, flat[pos + 1 + n], flat[pos + 2 + n]
        if hi[s] == 0:
            raise ValueError(f'ans.from_bytes: stream {s} has a head below 2^32 (corrupt)')
        pos += 3 + n
    if pos != flat.size:
        raise ValueError(f'ans.from_bytes: {flat.size - pos} words after the last stream')
    return Stack(
        jnp.asarray(hi),
        jnp.asarray(lo),
        jnp.asarray(words),
        jnp.asarray(size),
        jnp.zeros(num_streams, jnp.int32),
    )
