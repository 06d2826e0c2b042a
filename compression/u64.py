"""Unsigned 64-bit arithmetic on pairs of uint32 (hi, lo), elementwise, for the rANS head.

JAX has uint64 only under `jax_enable_x64`, a process-wide switch the rest of the repository does
not want, so the coder keeps its 64-bit state as two uint32 words and does the few operations it
needs exactly with 32-bit integer ops: every intermediate below stays under 2^32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

U32 = jnp.uint32
LOW16 = 0xFFFF


def mul32(a, b):
    """Full product of two uint32 as (hi, lo): schoolbook on 16-bit halves."""
    a0, a1 = a & LOW16, a >> 16
    b0, b1 = b & LOW16, b >> 16
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> 16) + (p01 & LOW16) + (p10 & LOW16)  # < 3 * 2^16: no overflow
    lo = (mid << 16) | (p00 & LOW16)
    hi = p11 + (p01 >> 16) + (p10 >> 16) + (mid >> 16)
    return hi, lo


def mul_small(hi, lo, f):
    """(hi, lo) * f mod 2^64 for uint32 f."""
    carry, lo = mul32(lo, f)
    return hi * f + carry, lo


def divmod_small(hi, lo, f, f_bits: int = 24):
    """(hi, lo) // f and (hi, lo) % f for 0 < f <= 2^f_bits, f_bits <= 24: long division of lo
    in digits of 16 bits (f_bits <= 16) or 8, so the running remainder (< f) shifted by one
    digit stays under 2^32; fewer digits, fewer divisions."""
    if not 0 < f_bits <= 24:
        raise ValueError(f'u64.divmod_small: f_bits must be in [1, 24], got {f_bits}')
    digit = 16 if f_bits <= 16 else 8
    # lax.div and a multiply-subtract for the remainder: one integer division per digit (jnp's
    # // and % add sign fix-ups and a second division, which doubled the coder's compile time).
    q_hi = jax.lax.div(hi, f)
    r = hi - q_hi * f
    q_lo = jnp.zeros_like(lo)
    for shift in range(32 - digit, -1, -digit):
        t = (r << digit) | ((lo >> shift) & ((1 << digit) - 1))
        q = jax.lax.div(t, f)
        q_lo = (q_lo << digit) | q
        r = t - q * f
    return q_hi, q_lo, r


def shift_left(hi, lo, bits: int):
    """(hi, lo) << bits mod 2^64 for a static 0 < bits < 32."""
    return (hi << bits) | (lo >> (32 - bits)), lo << bits


def shift_right(hi, lo, bits: int):
    """(hi, lo) >> bits for a static 0 < bits < 32."""
    return hi >> bits, (lo >> bits) | (hi << (32 - bits))


def add_small(hi, lo, a):
    """(hi, lo) + a mod 2^64 for uint32 a."""
    total = lo + a
    return hi + (total < lo).astype(U32), total
