"""VAE with a diagonal Gaussian posterior on the bundled 8x8 digits, dynamically binarised: the
offline check that the VAE learns, and the baseline the IAF posterior must beat.

Paper: Kingma & Welling 2013, "Auto-Encoding Variational Bayes", arXiv:1312.6114 (MLP encoder
and decoder, Bernoulli likelihood, reparameterised ELBO with the closed-form KL); importance-
weighted evaluation as in Burda, Grosse & Salakhutdinov 2015, arXiv:1509.00519. Sizes are ours
for 64 binary dimensions.
Command:
    python -m experiments.run --config experiments/configs/vae_binarized_digits.py \\
        --workdir runs/vae_digits
Hardware: 2 CPU cores, about a minute.
Expected: test NLL in nats (the importance-weighted bound, k = 100), measured in this repo
(WORKSPACE.md); there is no paper number for these digits.
"""

from experiments.configs import _vae
from models.core.config import defaults, optimizer

MODEL_KW = {
    'latent_dim': 8,
    'encoder_hidden': (128, 128),
    'decoder_hidden': (128, 128),
    'likelihood': 'bernoulli',
    'binarize': 'dynamic',
}


def get_config(arg=None):
    c = defaults()
    c.model = 'vae.vae'
    c.model_kw = dict(MODEL_KW)
    c.data.name = 'digits8x8'
    c.train.steps = 3000
    c.train.batch_size = 64
    c.train.log_every = 100
    c.train.eval_every = 1500
    c.train.sample_every = 1500
    c.train.checkpoint_every = 1500
    c.optim.model = optimizer(lr=2e-3, schedule='cosine', ema_decay=0.999)
    c.eval.batch_size = 360
    c.eval.model_kw = {'iw_samples': 100, 'iw_chunk': 50}
    c.expected = {
        'test/nll': 23.06,
        'test/elbo_nll': 23.44,
        'source': 'measured in this repo, 2026-12-02, 3,000 steps (no paper number)',
    }
    if arg == 'smoke':
        _vae.digits_smoke(
            c, {**MODEL_KW, 'latent_dim': 4, 'encoder_hidden': (16,), 'decoder_hidden': (16,)}
        )
    return c
