"""Training-step time per image and importance-weighted evaluation throughput of the VAEs, each
against a PyTorch reference of the same architecture (experiments/benchmarks/torch_vae.py):

  resnet   the CIFAR-10 ResNet VAE (experiments/configs/resnet_vae_cifar10.py's model: 20
           stochastic layers, h 160, z 32, conv IAF), 32x32x3 with 256 levels;
  mnist    the binarised-MNIST VAE with an IAF posterior (models/vae/vae.py: latent 32, MLPs
           (500, 500), 2 IAF steps of width 500 with a 500-wide context, Bernoulli likelihood,
           dynamic binarisation), 28x28x1 with 256 levels.

    python -m experiments.benchmarks.vae_speed                    # in an environment with torch
    python -m experiments.benchmarks.vae_speed --no-torch --tiny  # checks that the script runs

Train: the repo's shared step (Adamax, EMA 0.999, non-finite guard), jitted and donated, on one
JAX device; the reference runs torch's Adamax and an EMA of the parameters. Evaluation: the
family's `log_prob` (importance-weighted bound, chunks of k in a `lax.scan`, the up pass or
encoder once per image) against the same computation in torch without gradients. All variants
of a table are timed in alternating turns in one process (harness.time_interleaved, best of
`--repeats`), so load from other processes hits both frameworks alike.

The ResNet VAE at k = 1,000 costs about 10,000 GFLOP per image; on a CPU the script times one
chunk of `--resnet-iw-k` samples and scales to k = 1,000 (the chunks run one after another, so
time is linear in k): the printed rate says "(from k = ...)".
"""

from __future__ import annotations

import argparse
import importlib.util

import numpy as np

from experiments.benchmarks import harness

MNIST_KW = {
    'latent_dim': 32,
    'encoder_hidden': (500, 500),
    'decoder_hidden': (500, 500),
    'iaf_steps': 2,
    'iaf_hidden': (500,),
    'context_dim': 500,
    'likelihood': 'bernoulli',
    'binarize': 'dynamic',
}
TINY_RESNET = {'depth': 1, 'num_blocks': 2, 'h_size': 16, 'z_size': 4, 'iaf': True, 'kl_min': 0.1}
TINY_MNIST = {**MNIST_KW, 'encoder_hidden': (32,), 'decoder_hidden': (32,), 'iaf_hidden': (32,)}


def resnet_kw() -> dict:
    from experiments.run import load_config

    config = load_config('experiments/configs/resnet_vae_cifar10.py')
    return dict(config.model_kw.to_dict())


class JaxModel:
    """A family's jitted train step (threaded state) and its importance-weighted evaluation."""

    def __init__(self, path, model_kw, shape, batch, eval_batch, k, chunk):
        import jax
        import jax.numpy as jnp
        import optax

        from models.core.family import make_family
        from models.core.step import eval_variables, make_init, make_train_step
        from models.data import image_spec

        spec = image_spec(shape, 256)
        rng = np.random.default_rng(0)
        self.batch = {'image': rng.integers(0, 256, (batch, *shape)).astype(np.uint8)}
        self.eval_batch = {'image': rng.integers(0, 256, (eval_batch, *shape)).astype(np.uint8)}
        kw = {**model_kw, 'iw_samples': k, 'iw_chunk': chunk}
        family = make_family(path, kw, spec)
        opts, ema = {'model': optax.adamax(2e-3)}, {'model': 0.999}
        self.state = jax.jit(make_init(family, opts, ema))(jax.random.PRNGKey(0), self.batch)
        self.step = jax.jit(make_train_step(family, opts, ema), donate_argnums=0)
        # A copy: the train step donates the state these arrays belong to.
        self.variables = jax.tree.map(jnp.copy, eval_variables(self.state, use_ema=True))
        log_prob = jax.jit(family.log_prob)
        self.evaluate = lambda: log_prob(self.variables, self.eval_batch, jax.random.PRNGKey(1))
        self.params = sum(x.size for x in jax.tree.leaves(self.state['params']))


def torch_models(resnet: dict, mnist: dict, jax_resnet: JaxModel, jax_mnist: JaxModel):
    import torch

    from experiments.benchmarks import torch_vae

    torch.manual_seed(0)
    images = torch.from_numpy(jax_resnet.batch['image'].transpose(0, 3, 1, 2).astype(np.float32))
    resnet_model = torch_vae.ResNetVAE(
        3, 256, resnet['depth'], resnet['num_blocks'], resnet['h_size'], resnet['z_size'],
        resnet['iaf'], resnet['kl_min'],
    )  # fmt: skip
    resnet_step = torch_vae.TrainStep(resnet_model, lambda: images)
    grey = torch.from_numpy(jax_mnist.batch['image'].reshape(len(jax_mnist.batch['image']), -1))
    probs = grey.float() / 255.0
    mnist_model = torch_vae.IAFVAE(
        784, mnist['latent_dim'], mnist['encoder_hidden'], mnist['decoder_hidden'],
        mnist['iaf_steps'], mnist['iaf_hidden'], mnist['context_dim'],
    )  # fmt: skip
    mnist_step = torch_vae.TrainStep(mnist_model, lambda: torch.bernoulli(probs))
    eval_images = torch.from_numpy(
        jax_resnet.eval_batch['image'].transpose(0, 3, 1, 2).astype(np.float32)
    )
    eval_grey = jax_mnist.eval_batch['image'].reshape(len(jax_mnist.eval_batch['image']), -1)
    eval_binary = torch.bernoulli(torch.from_numpy(eval_grey).float() / 255.0)
    return resnet_model, resnet_step, eval_images, mnist_model, mnist_step, eval_binary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--resnet-batch', type=int, default=8)
    parser.add_argument('--mnist-batch', type=int, default=100)
    parser.add_argument('--resnet-iw-k', type=int, default=20, help='samples timed (one chunk)')
    parser.add_argument('--resnet-iw-batch', type=int, default=1)
    parser.add_argument('--mnist-iw-batch', type=int, default=20)
    parser.add_argument('--mnist-iw-chunk', type=int, default=100)
    parser.add_argument('--iters', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--torch-threads', type=int, default=0, help='0: torch default')
    parser.add_argument('--no-torch', action='store_true')
    parser.add_argument('--tiny', action='store_true', help='tiny models: checks the script')
    args = parser.parse_args()

    import jax

    have_torch = importlib.util.find_spec('torch') is not None and not args.no_torch
    resnet = TINY_RESNET if args.tiny else resnet_kw()
    mnist = TINY_MNIST if args.tiny else MNIST_KW
    k_mnist, k_resnet = 1000, args.resnet_iw_k
    print(f'{jax.default_backend()}, {jax.device_count()} device(s); torch reference: {have_torch}')
    jr = JaxModel(
        'vae.resnet_vae', resnet, (32, 32, 3), args.resnet_batch, args.resnet_iw_batch,
        k_resnet, k_resnet,
    )  # fmt: skip
    jm = JaxModel(
        'vae.vae', mnist, (28, 28, 1), args.mnist_batch, args.mnist_iw_batch, k_mnist,
        args.mnist_iw_chunk,
    )  # fmt: skip
    train = {
        'jax resnet': lambda s, _: jr.step(s, jr.batch)[0],
        'jax mnist': lambda s, _: jm.step(s, jm.batch)[0],
    }
    states = {'jax resnet': jr.state, 'jax mnist': jm.state}
    evals = {'jax resnet': lambda s, _: jr.evaluate(), 'jax mnist': lambda s, _: jm.evaluate()}
    if have_torch:
        import torch

        from experiments.benchmarks import torch_vae

        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        t_resnet, t_resnet_step, t_images, t_mnist, t_mnist_step, t_binary = torch_models(
            resnet, mnist, jr, jm
        )
        train['torch resnet'] = lambda s, _: s + t_resnet_step()
        train['torch mnist'] = lambda s, _: s + t_mnist_step()
        states.update({'torch resnet': 0.0, 'torch mnist': 0.0})
        evals['torch resnet'] = lambda s, _: torch_vae.importance_weighted(
            t_resnet, t_images, k_resnet, k_resnet
        ).sum()
        evals['torch mnist'] = lambda s, _: torch_vae.importance_weighted(
            t_mnist, t_binary, k_mnist, args.mnist_iw_chunk
        ).sum()
    train_s = harness.time_interleaved(train, states, None, args.iters, args.repeats)
    eval_states = dict.fromkeys(evals, 0.0)
    eval_s = harness.time_interleaved(evals, eval_states, None, 1, args.repeats)

    nan = float('nan')
    rows = []
    for name, model, batch, eval_batch, k in (
        ('resnet', jr, args.resnet_batch, args.resnet_iw_batch, k_resnet),
        ('mnist', jm, args.mnist_batch, args.mnist_iw_batch, k_mnist),
    ):
        jax_ms = 1e3 * train_s[f'jax {name}'] / batch
        torch_ms = 1e3 * train_s.get(f'torch {name}', nan) / batch
        # images/s at k = 1,000, from k samples (linear in k; exact for mnist, where k = 1,000)
        jax_ips = eval_batch / eval_s[f'jax {name}'] * k / 1000
        torch_ips = eval_batch / eval_s.get(f'torch {name}', nan) * k / 1000
        rows.append(
            [name, f'{model.params / 1e6:.2f}M', 'train ms/image', batch, jax_ms, torch_ms,
             torch_ms / jax_ms]
        )  # fmt: skip
        rows.append(
            [name, '', f'IW images/s at k=1000 (from k={k})', eval_batch, jax_ips, torch_ips,
             jax_ips / torch_ips]
        )  # fmt: skip
    harness.print_table(
        ['model', 'params', 'measure', 'batch', 'JAX', 'PyTorch', 'JAX speed / PyTorch'], rows
    )


if __name__ == '__main__':
    main()
