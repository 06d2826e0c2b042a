"""Speed of the autoregressive families: train step at CIFAR-10 shapes against the machine's
matmul peak and a PyTorch reference of the same PixelCNN++, and sampling, cached vs naive.

    python -m experiments.benchmarks.autoregressive_speed                 # everything
    python -m experiments.benchmarks.autoregressive_speed --skip-torch --devices 1

Tables (Markdown, for WORKSPACE.md):
1. Train step, 32x32x3, batch 16, through the repo's shared step (Adam, EMA), per CPU device
   count (`config.mesh.cpu_devices`; on a GPU all GPUs are used), with XLA's flop count as a
   fraction of the measured float32 matmul peak.
2. JAX vs PyTorch on the same PixelCNN++ (`pixelcnnpp_torch.py`), timed in ONE process in turns
   (JAX repeat, PyTorch repeat, ...; best of each) so that load from other users of a shared
   machine hits both alike. PyTorch uses every core (torch.get_num_threads()).
3. Sampling 16 images of 32x32x3. Cached sampling is timed whole. Naive sampling reruns the
   network on the whole image once per sub-pixel (PixelCNN, Gated PixelCNN: H*W*C passes) or per
   pixel (PixelCNN++: H*W passes); at 32x32 that takes too long to time whole on a CPU, so it is
   the measured time of one such pass times the number of passes, an estimate checked against a
   whole naive run at 8x8 (last table: estimated vs measured).
"""

from __future__ import annotations

import argparse
import json
import time

from experiments.benchmarks import harness

SHAPE = (32, 32, 3)
BATCH = 16
# About 2.1M parameters: the scale of the PyTorch measurement (2.3M).
PIXELCNNPP = {'filters': 40, 'num_resnet': 3, 'num_mix': 10, 'dropout': 0.5}
PIXELCNN = {'hidden': 64, 'num_blocks': 8, 'out_hidden': 256, 'first_kernel': 7}
GATED = {'features': 64, 'num_layers': 8, 'kernel_size': 5, 'out_hidden': 256}
SAMPLERS = {
    'autoregressive.pixelcnn': PIXELCNN,
    'autoregressive.gated_pixelcnn': GATED,
    'autoregressive.pixelcnnpp': PIXELCNNPP,
}


def _build_step(model: str, model_kw: dict, shape, batch: int):
    """The repo's shared, donated, sharded train step for `model` on a random batch."""
    import jax
    import numpy as np
    import optax

    from models.core import mesh as mesh_lib
    from models.core.family import make_family
    from models.core.step import make_init, make_train_step
    from models.data import image_spec

    spec = image_spec(tuple(shape), 256)
    family = make_family(model, dict(model_kw), spec)
    mesh = mesh_lib.make_mesh(0)
    rep, data = mesh_lib.replicated(mesh), mesh_lib.data_sharded(mesh)
    local = {'image': np.random.default_rng(0).integers(0, 256, (batch, *shape)).astype(np.uint8)}
    batch_arrays = mesh_lib.global_batch(local, mesh)
    opts, decays = {'model': optax.adam(1e-4)}, {'model': 0.999}
    state = jax.jit(make_init(family, opts, decays), out_shardings=rep)(
        jax.random.PRNGKey(0), batch_arrays
    )
    step = jax.jit(
        make_train_step(family, opts, decays),
        in_shardings=(rep, data),
        out_shardings=(rep, rep),
        donate_argnums=0,
    )
    compiled = step.lower(state, batch_arrays).compile()
    return compiled, state, batch_arrays


def compare_with_torch(iters: int, repeats: int) -> dict:
    """JAX and PyTorch PixelCNN++ steps in turns, in this process (its CPU devices as set)."""
    import jax
    import torch

    from experiments.benchmarks import pixelcnnpp_torch

    compiled, state, batch = _build_step('autoregressive.pixelcnnpp', PIXELCNNPP, SHAPE, BATCH)
    kw = {k: v for k, v in PIXELCNNPP.items() if k != 'num_mix'}
    torch_step, torch_params = pixelcnnpp_torch.make_train_step(BATCH, SHAPE, **kw)
    states = {'jax': state, 'torch': None}
    fns = {'jax': lambda s, b: compiled(s, b)[0], 'torch': lambda s, b: torch_step()}
    best = harness.time_interleaved(fns, states, batch, iters, repeats)
    jax_params = sum(x.size for x in jax.tree.leaves(states['jax']['params']))
    return {
        'jax_s': best['jax'],
        'torch_s': best['torch'],
        'jax_params': float(jax_params),
        'torch_params': float(torch_params),
        'torch_threads': float(torch.get_num_threads()),
        'devices': float(jax.device_count()),
    }


def time_sampling(model: str, model_kw: dict, shape, num: int) -> dict:
    """Seconds for cached sampling (whole) and for one full-network pass (naive's unit)."""
    import jax
    import numpy as np

    from models.autoregressive.layers import ApplyCtx
    from models.autoregressive.logistic_mixture import to_unit
    from models.core.family import load_family_module
    from models.data import image_spec

    spec = image_spec(tuple(shape), 256)
    m = load_family_module(model).model(spec, **model_kw)
    x = np.random.default_rng(0).integers(0, 256, (num, *shape)).astype(np.int32)
    params = jax.jit(m.family.init)(jax.random.PRNGKey(0), {'image': x})
    result = {}

    def best_of(fn, *args, n=3):
        jax.block_until_ready(fn(*args))
        times = []
        for _ in range(n):
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times.append(time.perf_counter() - start)
        return min(times)

    if m.sample_cached is not None:
        cached = jax.jit(m.sample_cached, static_argnums=2)
        result['cached_s'] = best_of(cached, params, jax.random.PRNGKey(1), num, n=2)
    forward = jax.jit(lambda p, xf: m.forward(ApplyCtx(p['model']), xf, None))
    result['pass_s'] = best_of(forward, params, to_unit(x, 256))
    h, w, c = shape
    # The channel-masked models rerun per sub-pixel, PixelCNN++ per pixel.
    result['passes'] = float(h * w * (c if m.sees_own_pixel else 1))
    result['naive_estimate_s'] = result['pass_s'] * result['passes']
    if h * w <= 64:  # small enough to time the real naive sampler whole
        naive = jax.jit(m.sample_naive, static_argnums=2)
        result['naive_s'] = best_of(naive, params, jax.random.PRNGKey(1), num, n=1)
    return result


def _child(mode: str, spec: dict, devices: int) -> dict:
    return harness.run_child(
        'experiments.benchmarks.autoregressive_speed',
        ['--child', json.dumps({'mode': mode, **spec}), '--devices', str(devices)],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--devices', type=int, nargs='*', default=[1, 2])
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--skip-torch', action='store_true')
    parser.add_argument('--skip-train', action='store_true')
    parser.add_argument('--skip-sampling', action='store_true')
    parser.add_argument('--child', default='', help=argparse.SUPPRESS)
    args = parser.parse_args()
    import jax

    if args.child:
        jax.config.update('jax_num_cpu_devices', args.devices[0])
        spec = json.loads(args.child)
        mode = spec.pop('mode')
        if mode == 'torch':
            result = compare_with_torch(**spec)
        else:
            result = time_sampling(**spec)
        print('RESULT ' + json.dumps(result), flush=True)
        return

    backend = jax.default_backend()
    peak = harness.matmul_peak_gflops()
    print(f'{backend}: float32 matmul peak {peak:.0f} GFLOP/s (measured)\n')
    if not args.skip_train:
        rows = []
        for model, kw in (('pixelcnnpp', PIXELCNNPP), ('pixelcnn', PIXELCNN)):
            for devices in args.devices if backend == 'cpu' else [1]:
                r = harness.time_family(
                    f'autoregressive.{model}', kw, SHAPE, 256, BATCH, devices,
                    iters=args.iters, repeats=args.repeats,
                )  # fmt: skip
                gflops = r['step_flops'] / r['step_s'] / 1e9
                rows.append(
                    [model, f"{r['params'] / 1e6:.2f}M", devices, 1e3 * r['step_s'],
                     1e3 * r['step_s'] / BATCH, gflops, f'{100 * gflops / peak:.0f}%']
                )  # fmt: skip
        print('Train step, 32x32x3, batch 16 (shared step: Adam + EMA)')
        harness.print_table(
            ['model', 'params', 'devices', 'ms/step', 'ms/image', 'GFLOP/s', 'of peak'], rows
        )
        print()
    if not args.skip_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print('PyTorch is not installed: no reference row.\n')
        else:
            rows = []
            for devices in args.devices if backend == 'cpu' else [1]:
                spec = {'iters': max(1, args.iters // 2), 'repeats': args.repeats}
                r = _child('torch', spec, devices)
                rows.append(
                    [devices, int(r['torch_threads']), f"{r['jax_params'] / 1e6:.2f}M",
                     f"{r['torch_params'] / 1e6:.2f}M", r['jax_s'], r['torch_s'],
                     f"{r['torch_s'] / r['jax_s']:.2f}x"]
                )  # fmt: skip
            print('PixelCNN++ train step vs PyTorch (same process, timed in turns, best of each)')
            harness.print_table(
                ['jax devices', 'torch threads', 'jax params', 'torch params', 'jax s/step',
                 'torch s/step', 'jax speed vs torch'],
                rows,
            )  # fmt: skip
            print()
    if not args.skip_sampling:
        rows, check = [], []
        for model, kw in SAMPLERS.items():
            devices = max(args.devices) if backend == 'cpu' else 1
            r = _child('sample', {'model': model, 'model_kw': kw, 'shape': SHAPE, 'num': 16}, 1)
            small = _child(
                'sample', {'model': model, 'model_kw': kw, 'shape': (8, 8, 3), 'num': 16}, 1
            )
            del devices
            name = model.split('.')[-1]
            cached = r.get('cached_s', float('nan'))
            rows.append(
                [name, cached, r['naive_estimate_s'], f"{int(r['passes'])} x {r['pass_s']:.3f} s",
                 f"{r['naive_estimate_s'] / cached:.0f}x" if 'cached_s' in r else 'no cache']
            )  # fmt: skip
            check.append(
                [name, small.get('cached_s', float('nan')), small['naive_estimate_s'],
                 small['naive_s']]
            )  # fmt: skip
        print('Sampling 16 images of 32x32x3 (seconds; naive = passes x one pass, see docstring)')
        harness.print_table(
            ['model', 'cached s', 'naive s (estimated)', 'naive passes', 'speed-up'], rows
        )
        print('\nThe estimate checked at 8x8x3 (16 images, seconds)')
        harness.print_table(['model', 'cached s', 'naive s estimated', 'naive s measured'], check)


if __name__ == '__main__':
    main()
