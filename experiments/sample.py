"""Samples from a finished run: a picture (the family's own, an image grid by default) and a .npz.

    python -m experiments.sample --workdir runs/demo [--num 64] [--temperature 0.8] \\
        [--params ema|raw] [--seed S] [--out PREFIX]

At temperature 1 this is the trainer's own sampler; with the default seed (the run's last step) it
draws exactly the grid the trainer wrote at the end of the run. Other temperatures: autoregressive
families divide every conditional's log-probabilities by T before drawing (T < 1 sharpens); flows
scale the prior's draw by T; other families only sample at 1. Writes PREFIX.png and PREFIX.npz
(`samples`, plus `temperature`, `seed`, `step`); PREFIX defaults to
<workdir>/samples/sample_t<T>_<params>_seed<S>.
"""

from __future__ import annotations

import os

import numpy as np

from experiments import finished_run
from models.core import images
from models.core.pieces import Autoregressive, Bijective


def tempered_sampler(family, spec, temperature: float):
    """(variables, rng, num) -> samples at `temperature`, or None where the family has no
    temperature (refused before anything is compiled)."""
    import jax
    import jax.numpy as jnp

    pieces = family.pieces
    if isinstance(pieces, Autoregressive):

        def choose(key, log_probs, index):
            u = jax.random.uniform(jax.random.fold_in(key, index), log_probs.shape[:1])
            cdf = jnp.cumsum(jax.nn.softmax(log_probs / temperature, axis=-1), axis=-1)
            return jnp.sum(cdf[:, :-1] < u[:, None], axis=-1).astype(jnp.int32), key

        def sample(variables, rng, num):
            # Labels cycle through the classes, as the trainer's sampler does; an unconditional
            # model ignores them.
            batch = {'label': jnp.arange(num) % spec.num_classes} if spec.num_classes else None
            return pieces.decode(variables, choose, rng, num, batch)[0]

        return jax.jit(sample, static_argnums=2)
    if isinstance(pieces, Bijective):

        def sample(variables, rng, num):
            z = temperature * pieces.prior_sample(rng, num)
            return pieces.quantize(pieces.inverse(variables, z))

        return jax.jit(sample, static_argnums=2)
    return None


def render(run, path: str, samples) -> None:
    if run.family.render is not None:
        run.family.render(path, samples)
    else:
        images.save_samples(path, samples, run.spec.num_levels if run.spec else None)


def command(args, overrides):
    if args.num <= 0:
        raise finished_run.RunError(f'--num must be positive, got {args.num}')
    if args.temperature <= 0:
        raise finished_run.RunError(f'--temperature must be positive, got {args.temperature}')
    use_ema = args.params == 'ema'
    overrides = [*overrides, f'--config.eval.use_ema={use_ema}']
    sampler = None

    def require(family, spec):
        nonlocal sampler
        if args.temperature != 1.0:
            sampler = tempered_sampler(family, spec, args.temperature)
            if sampler is None:
                raise finished_run.RunError(
                    f'{run_model(args.workdir)} samples only at temperature 1: a temperature '
                    'needs autoregressive conditionals or a flow prior to scale'
                )

    with finished_run.open_run(args.workdir, overrides, require) as run:
        seed = run.step if args.seed is None else args.seed
        if sampler is None:
            samples = run.trainer.sample(run.state, args.num, seed=seed)
        else:
            import jax

            rng = jax.random.fold_in(jax.random.PRNGKey(run.config.train.seed + 1), seed)
            samples = np.asarray(sampler(run.variables(), rng, args.num))
        prefix = args.out or os.path.join(
            args.workdir, 'samples', f'sample_t{args.temperature:g}_{args.params}_seed{seed}'
        )
        os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
        render(run, prefix + '.png', samples)
        np.savez(
            prefix + '.npz',
            samples=np.asarray(samples),
            temperature=args.temperature,
            seed=seed,
            step=run.step,
        )
        print(f'{args.num} samples (step {run.step}, {args.params} params, T={args.temperature:g})')
        print(f'wrote {prefix}.png and {prefix}.npz')
        return prefix


def run_model(workdir: str) -> str:
    return finished_run.saved_config(workdir).model


def parser():
    p = finished_run.command_parser(__doc__.splitlines()[0])
    p.add_argument('--num', type=int, default=64, help='how many samples (default 64)')
    p.add_argument('--temperature', type=float, default=1.0)
    p.add_argument('--params', choices=('ema', 'raw'), default='ema', help='EMA or raw params')
    p.add_argument('--seed', type=int, default=None, help="default: the run's last step")
    p.add_argument('--out', default=None, help='path prefix of the .png and .npz')
    return p


main = finished_run.main_of(command, parser())

if __name__ == '__main__':
    main()
