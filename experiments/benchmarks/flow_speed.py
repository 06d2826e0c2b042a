"""Training-step and sampling time of RealNVP and Flow++ at the CIFAR-10 configs' shapes, with the
fraction of the machine's matmul peak the step reaches, and a PyTorch reference of RealNVP.

    python -m experiments.benchmarks.flow_speed                        # everything (slow on CPU)
    python -m experiments.benchmarks.flow_speed --models realnvp --batches 16 --devices 1 2
    python -m experiments.benchmarks.flow_speed    # in an environment with torch: the reference too

Each (model, batch, devices) cell runs in its own child process whose CPU host is split into
`devices` JAX devices (the repo's data-parallel mesh, `config.mesh.cpu_devices`); on a GPU all its
GPUs are used and `--devices` is ignored. Inside a child the JAX step (the repo's shared, donated,
sharded step: Adam, EMA 0.999, data-dependent init) and, where torch is importable, the PyTorch
reference of the same RealNVP (experiments/benchmarks/torch_realnvp.py; same layers, Adam, EMA)
are timed in alternating turns (harness.time_interleaved, best of `--repeats`), so that load from
other processes on a shared machine hits both alike. FLOPs are XLA's count of the JAX step; the
torch fraction of peak uses the same count (same architecture).
"""

from __future__ import annotations

import argparse
import json

from experiments.benchmarks import harness

CIFAR = (32, 32, 3)


def model_kw(name: str) -> dict:
    """The CIFAR-10 config's model_kw (the model the paper trains)."""
    from experiments.run import load_config

    config = load_config(f'experiments/configs/{name}_cifar10.py')
    return json.loads(config.model_kw.to_json())


def child(spec: dict) -> dict:
    import jax

    jax.config.update('jax_num_cpu_devices', spec['devices'])
    import numpy as np
    import optax

    from models.core import mesh as mesh_lib
    from models.core.family import make_family
    from models.core.step import eval_variables, make_init, make_train_step
    from models.data import image_spec

    batch, iters, repeats = spec['batch'], spec['iters'], spec['repeats']
    data_spec = image_spec(CIFAR, 256)
    family = make_family(f'flows.{spec["model"]}', spec['model_kw'], data_spec)
    mesh = mesh_lib.make_mesh(0)
    rep, data = mesh_lib.replicated(mesh), mesh_lib.data_sharded(mesh)
    images = np.random.default_rng(0).integers(0, 256, (batch, *CIFAR)).astype(np.uint8)
    batch_arrays = mesh_lib.global_batch({'image': images}, mesh)
    opts, ema = {'model': optax.adam(1e-4)}, {'model': 0.999}
    state = jax.jit(make_init(family, opts, ema), out_shardings=rep)(
        jax.random.PRNGKey(0), batch_arrays
    )
    jitted = jax.jit(
        make_train_step(family, opts, ema),
        in_shardings=(rep, data),
        out_shardings=(rep, rep),
        donate_argnums=0,
    )
    lowered = jitted.lower(state, batch_arrays)
    compiled = lowered.compile()
    fns = {'jax': lambda s, b: compiled(s, b)[0]}
    states = {'jax': state}
    if spec['torch']:
        import torch

        from experiments.benchmarks import torch_realnvp

        torch.set_num_threads(spec['torch_threads'] or torch.get_num_threads())
        kw = {k: spec['model_kw'][k] for k in ('scales', 'features', 'blocks')}
        torch_step = torch_realnvp.TrainStep(kw, images)
        fns['torch'] = lambda s, b: s + torch_step()
        states['torch'] = 0.0
    seconds = harness.time_interleaved(fns, states, batch_arrays, iters, repeats)
    result = {
        'step_s': seconds['jax'],
        'torch_step_s': seconds.get('torch', float('nan')),
        'step_flops': harness._flops(lowered, compiled, jax.device_count()),
        'params': float(sum(x.size for x in jax.tree.leaves(states['jax']['params']))),
        'backend': jax.default_backend(),
    }
    if spec['sample_num']:
        sample = jax.jit(family.sample, static_argnums=2, out_shardings=data)
        variables = eval_variables(states['jax'], use_ema=False)
        jax.block_until_ready(sample(variables, jax.random.PRNGKey(1), spec['sample_num']))
        best = float('inf')
        for r in range(max(1, repeats - 1)):
            start = __import__('time').perf_counter()
            jax.block_until_ready(sample(variables, jax.random.PRNGKey(2 + r), spec['sample_num']))
            best = min(best, __import__('time').perf_counter() - start)
        result['sample_s'] = best
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='*', default=['realnvp', 'flowpp'])
    parser.add_argument('--batches', type=int, nargs='*', default=[16, 64])
    parser.add_argument('--devices', type=int, nargs='*', default=[1, 2])
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--sample-num', type=int, default=16)
    parser.add_argument('--torch-threads', type=int, default=0, help='0: torch default')
    parser.add_argument('--no-torch', action='store_true')
    parser.add_argument('--child', default='', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print('RESULT ' + json.dumps(child(json.loads(args.child))), flush=True)
        return

    import importlib.util

    import jax

    have_torch = importlib.util.find_spec('torch') is not None and not args.no_torch
    peak = harness.matmul_peak_gflops()
    backend = jax.default_backend()
    print(f'{backend} float32 matmul peak: {peak:.0f} GFLOP/s; torch reference: {have_torch}')
    rows = []
    for name in args.models:
        kw = model_kw(name)
        for batch in args.batches:
            for devices in args.devices if backend == 'cpu' else [jax.device_count()]:
                spec = {
                    'model': name,
                    'model_kw': kw,
                    'batch': batch,
                    'devices': devices,
                    'iters': args.iters,
                    'repeats': args.repeats,
                    'sample_num': args.sample_num,
                    'torch': have_torch and name == 'realnvp' and backend == 'cpu',
                    'torch_threads': args.torch_threads,
                }
                r = harness.run_child(
                    'experiments.benchmarks.flow_speed', ['--child', json.dumps(spec)]
                )
                fraction = r['step_flops'] / r['step_s'] / 1e9 / peak
                torch_ms = 1e3 * r['torch_step_s'] / batch
                torch_fraction = r['step_flops'] / r['torch_step_s'] / 1e9 / peak
                rows.append(
                    [name, f'{r["params"] / 1e6:.2f}M', r['backend'], devices, batch,
                     1e3 * r['step_s'] / batch, f'{fraction:.1%}',
                     1e3 * r.get('sample_s', float('nan')) / max(args.sample_num, 1),
                     torch_ms, f'{torch_fraction:.1%}', r['torch_step_s'] / r['step_s']]
                )  # fmt: skip
                print(rows[-1], flush=True)
    harness.print_table(
        ['model', 'params', 'backend', 'devices', 'batch', 'JAX ms/image (train)',
         'JAX fraction of peak', 'JAX ms/image (sample)', 'torch ms/image (train)',
         'torch fraction of peak', 'JAX speed-up over torch'],
        rows,
    )  # fmt: skip


if __name__ == '__main__':
    main()
