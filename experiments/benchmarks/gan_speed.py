"""Time per training iteration (both players: the discriminator's then the generator's update)
of DCGAN at 64x64 and of the Improved-GAN CIFAR-10 model, through the repo's shared step.

    python -m experiments.benchmarks.gan_speed [--batch 16] [--devices 1 2] [--iters 3]

Each row runs in a child process (experiments/benchmarks/harness.py) whose CPU host is split
into `devices` JAX devices; on a GPU the paper batch sizes are used and `devices` is ignored.
Throughput is reported next to the machine's measured float32 matmul peak, so the fraction of
peak a GAN step reaches is visible. No PyTorch reference here (see WORKSPACE.md).
"""

from __future__ import annotations

import argparse

from experiments.benchmarks import harness
from experiments.configs import dcgan_celeba64, improved_gan_cifar10

NO_SCORING = {'feature_net': 'none', 'inception_weights': ''}


def models() -> list[tuple[str, str, dict, tuple[int, int, int], int, int]]:
    """(row name, family, model_kw, shape, paper batch, classes) from the experiment configs."""
    dcgan_kw = dict(dcgan_celeba64.get_config().model_kw.to_dict(), **NO_SCORING)
    dcgan_kw.update({'image_size': 0, 'center_crop': 0})  # time the 64x64 networks themselves
    improved_kw = dict(improved_gan_cifar10.get_config().model_kw.to_dict(), **NO_SCORING)
    return [
        ('DCGAN 64x64', 'gan.dcgan', dcgan_kw, (64, 64, 3), 128, 0),
        ('Improved GAN CIFAR-10', 'gan.semi_supervised', improved_kw, (32, 32, 3), 100, 10),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=16, help='CPU batch (GPU: the paper batch)')
    parser.add_argument('--devices', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=2)
    args = parser.parse_args()

    import jax

    backend = jax.default_backend()
    peak = harness.matmul_peak_gflops()
    print(f'backend {backend}, float32 matmul peak {peak:.0f} GFLOP/s')
    rows = []
    for name, model, kw, shape, paper_batch, classes in models():
        batch = args.batch if backend == 'cpu' else paper_batch
        for devices in args.devices if backend == 'cpu' else [jax.device_count()]:
            result = harness.time_family(
                model,
                kw,
                shape,
                256,
                batch,
                devices=devices,
                iters=args.iters,
                repeats=args.repeats,
                num_classes=classes,
            )
            gflops = result['step_flops'] / result['step_s'] / 1e9
            rows.append(
                [
                    name,
                    backend,
                    devices,
                    batch,
                    result['step_s'] * 1e3,
                    batch / result['step_s'],
                    gflops,
                    f'{100 * gflops / peak:.0f}%',
                    result['params'] / 1e6,
                ]
            )
    headers = ['model', 'backend', 'devices', 'batch', 'ms/iter', 'images/s', 'GFLOP/s', 'of peak']
    harness.print_table([*headers, 'params (M)'], rows)


if __name__ == '__main__':
    main()
