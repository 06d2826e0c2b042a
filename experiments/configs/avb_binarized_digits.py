"""Adversarial variational Bayes on the bundled 8x8 digits, dynamically binarised: an implicit
posterior (noise into every encoder layer) trained against the adversary T(x, z), beside the
diagonal-Gaussian VAE of the same encoder, decoder and latent size (`vae_binarized_digits.py`).

Paper: Mescheder, Nowozin & Geiger 2017, "Adversarial Variational Bayes: Unifying Variational
Autoencoders and Generative Adversarial Networks", arXiv:1701.04722 (noise injected at every
encoder layer; T = <theta(x), s(z)> + T_x + T_z; Adam with beta1 0.5 and the adversary at twice the
encoder's learning rate, as in its MNIST runs). Sizes are ours for 64 binary dimensions.
Command:
    python -m experiments.run --config experiments/configs/avb_binarized_digits.py \\
        --workdir runs/avb_digits
Hardware: 2 CPU cores, a few minutes.
Expected: test NLL in nats (importance-weighted under a Gaussian fitted to the implicit posterior,
k = 100), measured in this repo (WORKSPACE.md).
"""

from experiments.configs import _vae
from models.core.config import defaults, optimizer

MODEL_KW = {
    'latent_dim': 8,
    'noise_dim': 16,
    'encoder_hidden': (128, 128),
    'decoder_hidden': (128, 128),
    'adversary_hidden': (128, 128),
    'adversary_inner': 32,
    'likelihood': 'bernoulli',
    'binarize': 'dynamic',
}


def get_config(arg=None):
    c = defaults()
    c.model = 'vae.avb'
    c.model_kw = dict(MODEL_KW)
    c.data.name = 'digits8x8'
    c.train.steps = 3000
    c.train.batch_size = 64
    c.train.log_every = 100
    c.train.eval_every = 1500
    c.train.sample_every = 1500
    c.train.checkpoint_every = 1500
    c.optim.disc = optimizer(lr=2e-3, b1=0.5)
    c.optim.model = optimizer(lr=1e-3, b1=0.5, ema_decay=0.999)
    c.eval.batch_size = 360
    c.eval.model_kw = {'iw_samples': 100, 'iw_chunk': 50}
    c.expected = {
        'test/nll': 25.86,
        'source': 'measured in this repo, 2026-12-02, 3,000 steps (no paper number)',
    }
    if arg == 'smoke':
        tiny = {
            **MODEL_KW,
            'latent_dim': 4,
            'noise_dim': 4,
            'encoder_hidden': (16,),
            'decoder_hidden': (16,),
            'adversary_hidden': (16,),
            'adversary_inner': 8,
            'fit_samples': 4,
        }
        _vae.digits_smoke(c, tiny)
    return c
