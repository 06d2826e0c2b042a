"""Net rates of the bits-back coders against the negative ELBO on the bundled digits: BB-ANS with
the one-layer VAE and Bit-Swap with the hierarchy of `models/vae/hierarchy.py`, each fitted for
a few hundred steps here (not a trained run's checkpoint).

    python -m experiments.benchmarks.bits_back_rates
    python -m experiments.benchmarks.bits_back_rates --steps 1000 --streams 16 --images 8

Prints a Markdown table: net bits per image (final minus initial content of the stacks) against
the family's own ELBO estimate (`log_prob(...)['elbo']`, 64 posterior draws) on the same
images, the initial bits, and the seconds to encode and decode (compiles included: these are
tiny models).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from compression import ans, bbans, bitswap, sequences
from experiments.benchmarks import harness
from models.core.family import Context, Variables
from models.data.sources import open_split
from models.vae import hierarchy, vae

INITIAL_WORDS = 8


def fit(family, x_train, steps: int, batch: int = 64, lr: float = 3e-3):
    params = family.init(jax.random.PRNGKey(0), {'image': x_train[:batch]})
    opt = optax.adam(lr)

    @jax.jit
    def run(params):
        def step(carry, t):
            params, state = carry
            key = jax.random.fold_in(jax.random.PRNGKey(1), t)
            rows = jax.random.randint(key, (batch,), 0, x_train.shape[0])
            ctx = Context(jax.random.fold_in(key, 1), t)

            def loss(p):
                return family.loss(Variables(p, {}), {'image': x_train[rows]}, ctx)[0]['model']

            updates, state = opt.update(jax.grad(loss)(params), state)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), jnp.arange(steps))
        return params

    return run(params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--steps', type=int, default=300)
    parser.add_argument('--streams', type=int, default=8)
    parser.add_argument('--images', type=int, default=8, help='per stream')
    args = parser.parse_args()
    train, spec = open_split('digits8x8', 'train', None)
    test, _ = open_split('digits8x8', 'test', None)
    num = args.streams * args.images
    x_train = jnp.asarray(train.gather(np.arange(len(train)))['image'], jnp.int32)
    x_test = jnp.asarray(test.gather(np.arange(num))['image'], jnp.int32)
    xs = x_test.reshape(args.images, args.streams, *spec.shape)
    vae_family, _, _ = vae.model(
        spec,
        latent_dim=8,
        encoder_hidden=(64,),
        decoder_hidden=(64,),
        likelihood='logistic',
        iw_samples=64,
        iw_chunk=64,
    )
    chain = hierarchy.model(
        spec,
        num_layers=2,
        zchannels=1,
        width=8,
        blocks=1,
        processing=1,
        dropout_rate=0.0,
        free_bits=0.0,
        iw_samples=64,
        iw_chunk=16,
    )
    runs = [
        (
            'BB-ANS, VAE (8 latents, 12-bit buckets)',
            vae_family,
            8,
            bbans.coder(vae_family.pieces, spec.shape, latent_bits=12),
        ),
        (
            'Bit-Swap, hierarchy (2 x 4x4x1, 10-bit buckets)',
            chain,
            32,
            bitswap.coder(chain.pieces, spec.shape, latent_bits=10),
        ),
    ]
    rows = []
    dims = int(np.prod(spec.shape))
    for name, family, latent_dims, coder in runs:
        params = fit(family, x_train, args.steps)
        elbo = jax.jit(family.log_prob)(params, {'image': x_test}, jax.random.PRNGKey(2))['elbo']
        neg_elbo = float(-np.asarray(elbo).sum() / np.log(2.0)) / num
        capacity = bbans.capacity_words(args.images, dims, latent_dims, INITIAL_WORDS)
        start = ans.with_initial_words(ans.empty(args.streams, capacity), 3, INITIAL_WORDS)
        t0 = time.perf_counter()
        stack, bits = sequences.encode_sequence(coder, params, xs, start)
        t1 = time.perf_counter()
        decoded, back = sequences.decode_sequence(coder, params, stack, args.images)
        t2 = time.perf_counter()
        ans.check(back)
        assert np.array_equal(np.asarray(decoded), np.asarray(xs)) and ans.same(back, start)
        initial = ans.content_bits(start).sum()
        net = float((bits[-1] - ans.content_bits(start)).sum()) / num
        rows.append(
            [
                name,
                f'{net:.2f}',
                f'{neg_elbo:.2f}',
                f'{(net - neg_elbo) / neg_elbo * 100:+.2f}%',
                f'{net / dims:.4f}',
                f'{initial:.0f}',
                f'{t1 - t0:.1f} / {t2 - t1:.1f}',
            ]
        )
    print(f'{num} test digits on {args.streams} streams, models fitted {args.steps} steps')
    harness.print_table(
        [
            'coder',
            'net bits/image',
            '-ELBO bits/image',
            'over -ELBO',
            'net bits/dim',
            'initial bits',
            'encode / decode s',
        ],
        rows,
    )


if __name__ == '__main__':
    main()
