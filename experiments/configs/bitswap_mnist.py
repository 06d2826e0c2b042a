"""The Bit-Swap hierarchy on MNIST at 256 levels: the 8-layer model Bit-Swap codes MNIST with.

Paper: F. Kingma, Abbeel & Ho 2019, "Bit-Swap: Recursive Bits-Back Coding for Lossless
Compression with Hierarchical Latent Variables", arXiv:1905.06845. Recipe of the official code
(fhkingma/bitswap, model/mnist_train.py and its README): 8 latent layers of 1 channel at half the
image's height and width, width 61, 8 ResNet blocks dealt round-robin over the layers, 4 5x5
processing blocks next to x, ELU, weight norm with data-dependent init, dropout 0.2, free bits of
1 bit per layer and channel, Adam lr 2e-3 decayed by 0.9995 a step to 5e-4, gradient-norm clip 1,
batch 128. Differs: the code pads MNIST to 32x32 (16x16 latents); here the 28x28 images give 14x14
latents. The code's EMA puts weight 0.999 on the current parameters (almost no averaging); here it
is a true EMA of decay 0.999. The code trains until stopped by hand; 500,000 steps is our choice.
Command:
    python -m experiments.run --config experiments/configs/bitswap_mnist.py \\
        --workdir runs/bitswap_mnist --config.data.data_dir=/data/tfds
Hardware: 1 GPU (the README's MNIST command).
Data: `tfds build mnist --data_dir=DIR --file_format=array_record`; the smoke variant runs a tiny
model on the bundled 8x8 digits.
Expected: test ELBO 0.972 bits per dimension of the padded 32x32 image (the mean negative ELBO of
the stored results plots/mnist8/bitswap_10bits_elbos.npy of the official repository), that is about
0.972 * 1024 / 784 = 1.27 bits per MNIST pixel if the zero padding costs nothing (derived; the
tolerance allows for the padding's cost).
"""

import math

from experiments.configs import _vae
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'vae.hierarchy'
    c.model_kw = {
        'num_layers': 8,
        'zchannels': 1,
        'width': 61,
        'blocks': 8,
        'processing': 4,
        'dropout_rate': 0.2,
        'free_bits': math.log(2.0),
    }
    c.data.name = 'mnist'
    c.train.steps = 500_000
    c.train.batch_size = 128
    c.train.log_every = 1000
    c.train.eval_every = 25_000
    c.train.sample_every = 25_000
    c.train.checkpoint_every = 5_000
    c.optim.model = optimizer(
        lr=2e-3,
        schedule='exponential',
        decay_steps=1,
        decay_rate=0.9995,
        end_lr_factor=0.25,
        clip_norm=1.0,
        ema_decay=0.999,
    )
    c.eval.batch_size = 100
    c.eval.model_kw = {'iw_samples': 100, 'iw_chunk': 10}
    c.expected = {
        'test/elbo_bpd': 1.27,
        'tolerance': 0.15,
        'source': 'fhkingma/bitswap plots/mnist8 stored ELBOs, 0.972 bits/dim on 32x32, per 28x28',
    }
    if arg == 'smoke':
        _vae.digits_smoke(c, {**c.model_kw, **_vae.BITSWAP_TINY})
    return c
