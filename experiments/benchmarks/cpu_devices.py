"""Does splitting a CPU host into several JAX devices speed up the shared step?

    python -m experiments.benchmarks.cpu_devices            # 1 and 2 CPU devices
    python -m experiments.benchmarks.cpu_devices --devices 1 2 4 --batch 32

One XLA CPU device runs a convolution step largely on one core; `config.mesh.cpu_devices=N`
makes N devices of the host and the data-parallel mesh then gives each core a slice of the batch.
The model is a stand-in for the conv nets of the flow and PixelCNN families: 4 same-padding 3x3
convolutions of 64 channels and a linear read-out on 32x32x3 inputs, squared-error loss, Adam,
through the repo's shared step (EMA on). Each device count runs in its own process.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time


def child(devices: int, batch: int, iters: int, repeats: int) -> float:
    import jax

    jax.config.update('jax_num_cpu_devices', devices)
    import flax.linen as nn
    import jax.numpy as jnp
    import numpy as np
    import optax

    from models.core import mesh as mesh_lib
    from models.core.family import Family
    from models.core.step import make_init, make_train_step

    class ConvNet(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(4):
                x = nn.relu(nn.Conv(64, (3, 3))(x))
            return nn.Conv(3, (3, 3))(x)

    net = ConvNet()

    def init(rng, b):
        return {'model': net.init(rng, b['image'][:1].astype(jnp.float32))}

    def loss(variables, b, ctx):
        x = b['image'].astype(jnp.float32) / 255.0
        error = jnp.mean((net.apply(variables.params['model'], x) - x) ** 2)
        return {'model': error}, {}, variables.state

    family = Family(init=init, loss=loss, sample=None)
    mesh = mesh_lib.make_mesh(0)
    rep, data = mesh_lib.replicated(mesh), mesh_lib.data_sharded(mesh)
    images = np.random.default_rng(0).integers(0, 256, (batch, 32, 32, 3), dtype=np.uint8)
    b = mesh_lib.global_batch({'image': images}, mesh)
    opts, ema = {'model': optax.adam(1e-3)}, {'model': 0.999}
    state = jax.jit(make_init(family, opts, ema), out_shardings=rep)(jax.random.PRNGKey(0), b)
    step = jax.jit(
        make_train_step(family, opts, ema),
        in_shardings=(rep, data),
        out_shardings=(rep, rep),
        donate_argnums=0,
    )
    for _ in range(3):
        state, _ = step(state, b)
    jax.block_until_ready(state)
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iters):
            state, _ = step(state, b)
        jax.block_until_ready(state)
        best = min(best, (time.perf_counter() - start) / iters)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--devices', type=int, nargs='*', default=[1, 2])
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--child', type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(f'RESULT {child(args.child, args.batch, args.iters, args.repeats):.6e}', flush=True)
        return
    print('| cpu devices | batch | ms/step | images/s | speed-up |\n|---|---|---|---|---|')
    base = None
    for devices in args.devices:
        cmd = [
            sys.executable, '-m', 'experiments.benchmarks.cpu_devices', '--child', str(devices),
            '--batch', str(args.batch), '--iters', str(args.iters), '--repeats', str(args.repeats),
        ]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        seconds = float(next(s for s in out.splitlines() if s.startswith('RESULT')).split()[1])
        base = base or seconds
        print(
            f'| {devices} | {args.batch} | {1e3 * seconds:.1f} | {args.batch / seconds:.0f} | '
            f'{base / seconds:.2f}x |'
        )


if __name__ == '__main__':
    main()
