"""Bits-back coders over a sequence of batches on the same streams: each batch takes its bits
back from the ones before it (the first from the initial bits), decoded in reverse order."""

from __future__ import annotations

import jax.numpy as jnp

from compression import ans


def encode_sequence(coder, variables, xs, stack):
    """xs [T, B, *shape] in order; returns the stack and each step's content bits [T + 1, B]."""
    bits = [ans.content_bits(stack)]
    for x in xs:
        stack = coder.encode(variables, x, stack)
        bits.append(ans.content_bits(stack))
    return stack, bits


def decode_sequence(coder, variables, stack, length: int):
    """The inverse of `encode_sequence`: pops `length` batches, returned in encoding order."""
    xs = []
    for _ in range(length):
        x, stack = coder.decode(variables, stack)
        xs.append(x)
    return jnp.stack(xs[::-1]), stack
