"""Speed of the JAX rANS coder (`compression.ans`) with a table per symbol (the autoregressive
case), and `constriction`'s ANS coder beside it when it is installed (it is not a dependency:
`pip install constriction`).

    python -m experiments.benchmarks.ans_speed
    python -m experiments.benchmarks.ans_speed --streams 64 --symbols 3072 --levels 256

Prints one Markdown table: symbols/s of push (encode) and pop (decode) over `streams`
interleaved streams of `symbols` symbols each with K = `levels` per-symbol tables already built,
the time to build the integer tables from log-probs, and each back end's codelength of the same
message against -log2 of the quantised probabilities. constriction codes one stream (it has no
batched API) with the same float probabilities through `Categorical(perfect=False)`; its own
quantisation differs from `compression.tables`, so its codelength is compared, not its bits.
Best of `--repeats`, every variant timed in turns so load from other users hits both alike.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from compression import ans, codecs, tables
from experiments.benchmarks import harness


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--streams', type=int, default=32)
    parser.add_argument('--symbols', type=int, default=1024, help='per stream')
    parser.add_argument('--levels', type=int, default=256)
    parser.add_argument('--precision', type=int, default=16)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    s, n, k, p = args.streams, args.symbols, args.levels, args.precision
    rng = np.random.default_rng(0)
    log_probs = jax.nn.log_softmax(2.0 * rng.standard_normal((s, n, k), np.float32), -1)
    symbols = np.asarray(jax.random.categorical(jax.random.PRNGKey(0), log_probs))

    build = jax.jit(lambda lp: tables.cdf_from_log_probs(lp, p))
    push = jax.jit(lambda stack, cdf, x: codecs.categorical(cdf, p).push(stack, x))
    pop = jax.jit(lambda stack, cdf: codecs.categorical(cdf, p).pop(stack))
    cdf = jax.block_until_ready(build(log_probs))
    capacity = n * p // 32 + 4
    empty = ans.empty(s, capacity)
    pushed = jax.block_until_ready(push(empty, cdf, symbols))
    popped, back = pop(pushed, cdf)
    assert np.array_equal(np.asarray(popped), symbols) and ans.same(back, empty)
    ideal = float(np.asarray(tables.codelength_bits(cdf, symbols, p), np.float64).sum())
    ours = float(ans.content_bits(pushed).sum())

    probs = np.asarray(jnp.exp(log_probs), np.float64).reshape(-1, k)
    flat = symbols.reshape(-1).astype(np.int32)
    try:
        import constriction

        family = constriction.stream.model.Categorical(perfect=False)
    except ImportError:
        constriction = None

    def constriction_encode():
        coder = constriction.stream.stack.AnsCoder()
        coder.encode_reverse(flat, family, probs)
        return coder

    timings = {}
    for _ in range(args.repeats):  # in turns
        timings.setdefault('tables', []).append(best_of(lambda: build(log_probs), 1))
        timings.setdefault('push', []).append(best_of(lambda: push(empty, cdf, symbols), 1))
        timings.setdefault('pop', []).append(best_of(lambda: pop(pushed, cdf), 1))
        if constriction is not None:
            timings.setdefault('c_push', []).append(best_of(constriction_encode, 1))
            coder = constriction_encode()
            compressed = coder.get_compressed()

            def decode(compressed=compressed):
                return constriction.stream.stack.AnsCoder(compressed).decode(family, probs)

            timings.setdefault('c_pop', []).append(best_of(decode, 1))
    best = {name: min(v) for name, v in timings.items()}
    exact = _exact(log_probs, symbols)
    total = s * n
    rows = [
        [
            f'JAX rANS, {s} streams ({jax.default_backend()})',
            f'{total / best["push"] / 1e6:.2f}',
            f'{total / best["pop"] / 1e6:.2f}',
            f'{total / best["tables"] / 1e6:.2f}',
            f'{(ours - exact) / exact * 100:+.4f}% vs float -log2 p',
        ]
    ]
    if constriction is not None:
        decoded = constriction.stream.stack.AnsCoder(compressed).decode(family, probs)
        assert np.array_equal(decoded, flat)
        theirs = constriction_encode().num_bits()
        rows.append(
            [
                'constriction 0.5 AnsCoder, 1 stream (CPU)',
                f'{total / best["c_push"] / 1e6:.2f}',
                f'{total / best["c_pop"] / 1e6:.2f}',
                '(inside)',
                f'{(theirs - exact) / exact * 100:+.4f}% vs float -log2 p',
            ]
        )
    print(f'{s} x {n} symbols, K = {k}, precision {p}, a table per symbol; best of {args.repeats}')
    harness.print_table(
        ['coder', 'push M sym/s', 'pop M sym/s', 'tables M sym/s', 'bits over -log2 p'], rows
    )
    print(
        f"JAX: coder {ours:.0f} bits, its quantised tables' -log2 p {ideal:.0f}, "
        f'float -log2 p {exact:.0f}'
    )


def _exact(log_probs, symbols) -> float:
    lp = np.take_along_axis(np.asarray(log_probs, np.float64), symbols[..., None], -1)
    return float(-lp.sum() / np.log(2.0))


if __name__ == '__main__':
    main()
