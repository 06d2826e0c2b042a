"""The Bit-Swap hierarchy on CIFAR-10: the 8-layer model Bit-Swap codes CIFAR-10 with.

Paper: F. Kingma, Abbeel & Ho 2019, "Bit-Swap: Recursive Bits-Back Coding for Lossless
Compression with Hierarchical Latent Variables", arXiv:1905.06845. Recipe of the official code
(fhkingma/bitswap, model/cifar_train.py and its README): 8 latent layers of 8 channels at 16x16,
width 252, 8 ResNet blocks dealt round-robin over the layers, 4 5x5 processing blocks next to x,
ELU, weight norm with data-dependent init, dropout 0.3, free bits of 1 bit per layer and channel,
Adam lr 2e-3 decayed by 0.999995 a step to 5e-4, gradient-norm clip 1, batch 16 in total over 8
GPUs. Differs: the code's EMA puts weight 0.999 on the current parameters (almost no averaging);
here it is a true EMA of decay 0.999. The code trains until stopped by hand; 1,000,000 steps is
our choice.
Command:
    python -m experiments.run --config experiments/configs/bitswap_cifar10.py \\
        --workdir runs/bitswap_cifar10 --config.data.data_dir=/data/tfds
Hardware: 8 GPUs (the README's CIFAR-10 command, Horovod).
Data: `tfds build cifar10 --data_dir=DIR --file_format=array_record`; the smoke variant runs a
tiny model on the bundled 32x32x3 patches.
Expected: test ELBO 3.775 bits/dim (the mean negative ELBO of the stored results
plots/cifar8/bitswap_10bits_elbos.npy of the official repository; the README's Bit-Swap rate on
CIFAR-10, 3.82, adds the coder's overhead).
"""

import math

from experiments.configs import _vae
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'vae.hierarchy'
    c.model_kw = {
        'num_layers': 8,
        'zchannels': 8,
        'width': 252,
        'blocks': 8,
        'processing': 4,
        'dropout_rate': 0.3,
        'free_bits': math.log(2.0),
    }
    c.data.name = 'cifar10'
    c.train.steps = 1_000_000
    c.train.batch_size = 16
    c.train.log_every = 1000
    c.train.eval_every = 50_000
    c.train.sample_every = 50_000
    c.train.checkpoint_every = 10_000
    c.optim.model = optimizer(
        lr=2e-3,
        schedule='exponential',
        decay_steps=1,
        decay_rate=0.999995,
        end_lr_factor=0.25,
        clip_norm=1.0,
        ema_decay=0.999,
    )
    c.eval.batch_size = 16
    c.eval.model_kw = {'iw_samples': 100, 'iw_chunk': 4}
    c.expected = {
        'test/elbo_bpd': 3.775,
        'source': 'fhkingma/bitswap plots/cifar8/bitswap_10bits_elbos.npy (mean negative ELBO)',
    }
    if arg == 'smoke':
        _vae.patches_smoke(c, {**c.model_kw, **_vae.BITSWAP_TINY})
    return c
