"""Autoregressive coding through the decode scan of `models.core.pieces.Autoregressive`.

One compiled program serves both directions, so encoder and decoder compute their tables from
bit-identical log-probs (the contract promises decode's log-probs depend on the symbols chosen
so far alone; compiling a second program for encoding could fuse the model's arithmetic
differently and break that). The program runs the family's decode scan with a `choose` that,
per variable, turns the log-probs into an integer table and then either
- returns the given data and records the table (`force` = True: the encoder's teacher-forced
  pass), or
- pops the symbol from the stack (`force` = False: decoding, one pop per model step inside the
  scan, no host round trip).
The encoder then pushes the data in reverse generation order with the recorded tables, a pure
integer pass: ANS is a stack, so the decoder's first pop meets the encoder's last push.

Streams: one per example of the batch. The recorded tables are [B, D, K + 1] int32. x is in the
pieces' symbol space, what decode returns: levels for the image models, the bits of a
thresholded image for MADE and NADE. Data are permuted into the pieces' generation `order`
(MADE's order-agnostic masks generate in a random order).
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from compression import codecs, tables


class ARCoder(NamedTuple):
    encode: Any  # (variables, x [B, *event], stack, batch=None) -> (stack, tables [B, D, K+1])
    decode: Any  # (variables, stack, batch=None) -> (x [B, *event] int32, stack)
    num_dims: int


def coder(pieces, num: int, precision: int = 16) -> ARCoder:
    """A coder for batches of `num` examples of an Autoregressive family's pieces."""
    order = np.asarray(pieces.order)
    num_dims, levels = len(order), int(pieces.num_levels)
    tables._check(levels, precision)

    @jax.jit
    def scan(variables, stack, forced, force, batch):
        seen0 = jnp.zeros((num, num_dims, levels + 1), jnp.int32)

        def choose(carry, log_probs, index):
            stack, seen = carry
            cdf = tables.cdf_from_log_probs(log_probs, precision)
            popped, popped_stack = codecs.pop_cdf(stack, cdf, precision)
            given = jax.lax.dynamic_index_in_dim(forced, index, 1, keepdims=False)
            symbols = jnp.where(force, given, popped)
            stack = jax.tree.map(lambda a, b: jnp.where(force, a, b), stack, popped_stack)
            seen = jax.lax.dynamic_update_index_in_dim(seen, cdf, index, 1)
            return symbols, (stack, seen)

        x, (stack, seen) = pieces.decode(variables, choose, (stack, seen0), num, batch)
        return x, stack, seen

    def encode(variables, x, stack, batch=None):
        forced = jnp.asarray(x, jnp.int32).reshape(num, num_dims)[:, order]
        _, _, cdf = scan(variables, stack, forced, True, batch)
        return push_reversed(stack, cdf, forced, precision), cdf

    def decode(variables, stack, batch=None):
        zeros = jnp.zeros((num, num_dims), jnp.int32)
        x, stack, _ = scan(variables, stack, zeros, False, batch)
        return x, stack

    return ARCoder(encode, decode, num_dims)


@functools.partial(jax.jit, static_argnums=3)
def push_reversed(stack, cdf, symbols, precision: int):
    """Pushes symbols [S, D] with their tables [S, D, K + 1] last to first, so that pops come
    out first to last (module level: one compile per shape for every model)."""
    num_dims = symbols.shape[1]

    def body(j, stack):
        i = num_dims - 1 - j
        return codecs.push_cdf(stack, cdf[:, i], symbols[:, i], precision)

    return jax.lax.fori_loop(0, num_dims, body, stack)


def capacity_words(num_dims: int, levels: int, precision: int = 16) -> int:
    """Tail words per stream that always suffice: each symbol costs at most `precision` bits
    (its frequency is >= 1), plus one word of slack per push that can emit."""
    del levels
    return math.ceil(num_dims * precision / 32) + 2
