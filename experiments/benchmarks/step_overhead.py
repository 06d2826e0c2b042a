"""Train-step time per example for the per-pixel baseline, and the shared step's overhead.

    python -m experiments.benchmarks.step_overhead            # 1 and 8 (fake CPU) devices
    python -m experiments.benchmarks.step_overhead --devices 1 --batch-sizes 64 256

For each device count and global batch size it times, on random CIFAR-shaped data (32x32x3, 256
levels, so the data loader is not measured):
  shared step   the repo's step as the loop compiles it (non-finite guard, metrics, RNG, players)
  bare jit      jax.jit of the same loss, value_and_grad, Adam update (and the same EMA when the
                shared step has one), donated, with the same shardings
each with EMA on and off, and prints the overhead of the shared step over the bare jit (target:
under 5%).
Device counts other than the real one run in a subprocess with XLA's fake host devices.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from experiments.benchmarks.harness import time_interleaved


def measure(batch_size: int, iters: int, repeats: int) -> dict[str, float]:
    import jax
    import numpy as np
    import optax

    from models.baselines import pixel_categorical
    from models.core import mesh as mesh_lib
    from models.core.family import Variables
    from models.core.step import ema_decay_at, make_init, make_train_step
    from models.data import image_spec

    mesh = mesh_lib.make_mesh(0)
    rep, data = mesh_lib.replicated(mesh), mesh_lib.data_sharded(mesh)
    family = pixel_categorical.make(image_spec((32, 32, 3), 256))
    rng = np.random.default_rng(0)
    batch = mesh_lib.global_batch(
        {'image': rng.integers(0, 256, (batch_size, 32, 32, 3), dtype=np.uint8)}, mesh
    )
    opt = optax.adam(1e-3)
    fns, states = {}, {}
    for name, ema in (('shared_ema', {'model': 0.999}), ('shared_noema', {})):
        init = jax.jit(make_init(family, {'model': opt}, ema), out_shardings=rep)
        step = jax.jit(
            make_train_step(family, {'model': opt}, ema),
            in_shardings=(rep, data),
            out_shardings=(rep, rep),
            donate_argnums=0,
        )
        states[name] = init(jax.random.PRNGKey(0), batch)
        fns[name] = lambda s, b, step=step: step(s, b)[0]

    def make_bare(with_ema: bool):
        def bare(state, batch):
            params, opt_state, ema, step = state

            def loss(p):
                return family.loss(Variables({'model': p}), batch, None)[0]['model']

            value, grads = jax.value_and_grad(loss)(params)
            updates, opt_state = opt.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            if with_ema:
                d = ema_decay_at(0.999, step)
                ema = jax.tree.map(lambda e, p: d * e + (1 - d) * p, ema, params)
            return (params, opt_state, ema, step + 1), value

        return jax.jit(bare, in_shardings=(rep, data), out_shardings=(rep, rep), donate_argnums=0)

    params = family.init(jax.random.PRNGKey(0), batch)['model']
    for name, with_ema in (('bare_ema', True), ('bare_noema', False)):
        ema = jax.tree.map(lambda x: x + 0, params) if with_ema else {}
        state = (jax.tree.map(lambda x: x + 0, params), opt.init(params), ema, np.int32(0))
        states[name] = jax.device_put(state, rep)
        bare_step = make_bare(with_ema)
        fns[name] = lambda s, b, f=bare_step: f(s, b)[0]
    return time_interleaved(fns, states, batch, iters, repeats)


def child(args) -> None:
    import jax

    for batch_size in args.batch_sizes:
        r = measure(batch_size, args.iters, args.repeats)
        cells = ' '.join(f'{k}={v:.6e}' for k, v in r.items())
        print(f'RESULT devices={jax.device_count()} batch={batch_size} {cells}', flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--devices', type=int, nargs='*', default=[1, 8])
    parser.add_argument('--batch-sizes', type=int, nargs='*', default=[64, 256])
    parser.add_argument('--iters', type=int, default=50)
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    rows = []
    for devices in args.devices:
        env = dict(os.environ)
        if env.get('JAX_PLATFORMS', 'cpu') == 'cpu':
            env['XLA_FLAGS'] = f'--xla_force_host_platform_device_count={devices}'
        cmd = [
            sys.executable, '-m', 'experiments.benchmarks.step_overhead', '--child',
            '--batch-sizes', *map(str, args.batch_sizes),
            '--iters', str(args.iters), '--repeats', str(args.repeats),
        ]  # fmt: skip
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith('RESULT '):
                rows.append(dict(kv.split('=') for kv in line.split()[1:]))
    print(
        '| devices | batch | EMA | shared step us/example | bare jit us/example | overhead |\n'
        '|---|---|---|---|---|---|'
    )
    for r in rows:
        b = int(r['batch'])
        for ema in ('ema', 'noema'):
            shared, bare = float(r[f'shared_{ema}']), float(r[f'bare_{ema}'])
            print(
                f'| {r["devices"]} | {b} | {"on" if ema == "ema" else "off"} | '
                f'{1e6 * shared / b:.2f} | {1e6 * bare / b:.2f} | '
                f'{100 * (shared / bare - 1):+.1f}% |'
            )


if __name__ == '__main__':
    main()
