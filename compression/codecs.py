"""Codecs as (push, pop) pairs over an `ans.Stack`, and the small combinators that build them.

A codec codes one array of symbols [S, *shape] (one row per stream): `push(stack, symbols) ->
stack` and `pop(stack) -> (symbols, stack)`, pop being push's exact inverse. Elements of a row
are pushed in flat order and popped in reverse, so pop(push(stack, x)) == (x, stack). Tables are
fixed when the codec is built (from model outputs through `compression.tables`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from compression import ans, tables


class Codec(NamedTuple):
    push: Callable[[ans.Stack, Any], ans.Stack]
    pop: Callable[[ans.Stack], tuple[Any, ans.Stack]]


def push_cdf(stack: ans.Stack, cdf: jax.Array, symbols: jax.Array, precision: int) -> ans.Stack:
    """One symbol per stream: cdf [S, K + 1], symbols [S]. An out-of-range symbol gets a zero
    frequency and sets BAD_SYMBOL."""
    num = cdf.shape[-1] - 1
    s = symbols.astype(jnp.int32)
    inside = (s >= 0) & (s < num)
    s = jnp.clip(s, 0, num - 1)[:, None]
    start = jnp.take_along_axis(cdf, s, -1)[:, 0]
    freq = jnp.take_along_axis(cdf, s + 1, -1)[:, 0] - start
    return ans.push(stack, start, jnp.where(inside, freq, 0), precision)


def pop_cdf(stack: ans.Stack, cdf: jax.Array, precision: int) -> tuple[jax.Array, ans.Stack]:
    """The inverse of `push_cdf`: the symbol whose interval holds the stack's slot (a count of
    the upper ends at or below the slot, vectorised over K)."""
    slot = ans.peek(stack, precision).astype(jnp.int32)
    symbols = jnp.sum(cdf[:, 1:] <= slot[:, None], axis=-1).astype(jnp.int32)
    s = symbols[:, None]
    start = jnp.take_along_axis(cdf, s, -1)[:, 0]
    freq = jnp.take_along_axis(cdf, s + 1, -1)[:, 0] - start
    return symbols, ans.pop(stack, start, freq, precision)


def categorical(cdf: jax.Array, precision: int) -> Codec:
    """Per-element tables: cdf [S, *shape, K + 1] codes symbols [S, *shape] in [0, K)."""
    num_streams, shape = cdf.shape[0], cdf.shape[1:-1]
    flat = cdf.reshape(num_streams, -1, cdf.shape[-1])
    n = flat.shape[1]

    def push(stack, symbols):
        symbols = symbols.reshape(num_streams, n)

        def body(i, stack):
            return push_cdf(stack, flat[:, i], symbols[:, i], precision)

        return jax.lax.fori_loop(0, n, body, stack)

    def pop(stack):
        def body(j, state):
            symbols, stack = state
            i = n - 1 - j
            value, stack = pop_cdf(stack, flat[:, i], precision)
            return symbols.at[:, i].set(value), stack

        symbols0 = jnp.zeros((num_streams, n), jnp.int32)
        symbols, stack = jax.lax.fori_loop(0, n, body, (symbols0, stack))
        return symbols.reshape(num_streams, *shape), stack

    return Codec(push, pop)


def from_log_probs(log_probs: jax.Array, precision: int) -> Codec:
    """log_probs [S, *shape, K] -> a categorical codec with deterministic quantised tables."""
    return categorical(tables.cdf_from_log_probs(log_probs, precision), precision)


def bernoulli(logits: jax.Array, precision: int) -> Codec:
    """Binary symbols [S, *shape] (0/1) with P(1) = sigmoid(logits)."""
    pair = jnp.stack([jax.nn.log_sigmoid(-logits), jax.nn.log_sigmoid(logits)], axis=-1)
    return from_log_probs(pair, precision)


def uniform(shape: tuple[int, ...], bits: int) -> Codec:
    """Symbols in [0, 2^bits) at exactly `bits` bits each (no table; bits <= 24)."""

    def push(stack, symbols):
        rows = symbols.reshape(symbols.shape[0], -1)
        freq = jnp.ones(rows.shape[:1], jnp.uint32)

        def body(i, stack):
            return ans.push(stack, rows[:, i].astype(jnp.uint32), freq, bits)

        return jax.lax.fori_loop(0, rows.shape[1], body, stack)

    def pop(stack):
        n = math.prod(shape)
        num_streams = stack.num_streams
        freq = jnp.ones((num_streams,), jnp.uint32)

        def body(j, state):
            symbols, stack = state
            slot = ans.peek(stack, bits)
            stack = ans.pop(stack, slot, freq, bits)
            return symbols.at[:, n - 1 - j].set(slot.astype(jnp.int32)), stack

        symbols0 = jnp.zeros((num_streams, n), jnp.int32)
        symbols, stack = jax.lax.fori_loop(0, n, body, (symbols0, stack))
        return symbols.reshape(num_streams, *shape), stack

    return Codec(push, pop)


def serial(*codecs: Codec) -> Codec:
    """Codes a tuple of symbol arrays: pushes in order, pops in reverse (a stack)."""

    def push(stack, symbols):
        for codec, value in zip(codecs, symbols, strict=True):
            stack = codec.push(stack, value)
        return stack

    def pop(stack):
        values = []
        for codec in reversed(codecs):
            value, stack = codec.pop(stack)
            values.append(value)
        return tuple(reversed(values)), stack

    return Codec(push, pop)


def push_or_pop(codec: Codec, stack: ans.Stack, symbols, push) -> tuple[Any, ans.Stack]:
    """`codec.push` if `push` (a traced bool) else `codec.pop`, as one program: a bits-back
    coder's stage computes its table and then pushes (one direction) or pops (the other)
    inside the same compiled program, so both directions see bit-identical tables by
    construction. Returns (symbols, stack): the given symbols after a push."""
    return jax.lax.cond(
        push,
        lambda: (symbols, codec.push(stack, symbols)),
        lambda: codec.pop(stack),
    )
