"""The Bit-Swap hierarchy on the bundled 8x8 digits (17 levels): the offline check that the
Markov chain of latent layers learns, and the model the compression issue codes with offline.

Paper: F. Kingma, Abbeel & Ho 2019, "Bit-Swap: Recursive Bits-Back Coding for Lossless
Compression with Hierarchical Latent Variables", arXiv:1905.06845 (logistic latent conditionals,
weight-normalised ELU ResNets, discretised logistic p(x|z1) with a free per-pixel scale, free bits
per layer and channel, Adam with its MNIST decay of 0.9995 a step to a quarter of the rate). Sizes
are ours for 8x8 images: 2 latent layers of 4x4x2, width 32.
Command:
    python -m experiments.run --config experiments/configs/bitswap_digits.py \\
        --workdir runs/bitswap_digits
Hardware: 2 CPU cores, a few minutes.
Expected: test bits/dim of the importance-weighted bound (k = 50), measured in this repo
(WORKSPACE.md); the per-pixel categorical baseline scores 2.435.
"""

import math

from experiments.configs import _vae
from models.core.config import defaults, optimizer

MODEL_KW = {
    'num_layers': 2,
    'zchannels': 2,
    'width': 32,
    'blocks': 2,
    'processing': 1,
    'dropout_rate': 0.0,
    'free_bits': 0.1 * math.log(2.0),
}


def get_config(arg=None):
    c = defaults()
    c.model = 'vae.hierarchy'
    c.model_kw = dict(MODEL_KW)
    c.data.name = 'digits8x8'
    c.train.steps = 2000
    c.train.batch_size = 64
    c.train.log_every = 100
    c.train.eval_every = 1000
    c.train.sample_every = 1000
    c.train.checkpoint_every = 1000
    c.optim.model = optimizer(
        lr=2e-3,
        schedule='exponential',
        decay_steps=1,
        decay_rate=0.9995,
        end_lr_factor=0.25,
        clip_norm=1.0,
        ema_decay=0.999,
    )
    c.eval.batch_size = 360
    c.eval.model_kw = {'iw_samples': 50, 'iw_chunk': 25}
    c.expected = {
        'test/bpd': 1.947,
        'test/elbo_bpd': 2.012,
        'source': 'measured in this repo, 2026-12-02, 2,000 steps (no paper number)',
    }
    if arg == 'smoke':
        _vae.digits_smoke(c, {**MODEL_KW, **_vae.BITSWAP_TINY})
    return c
