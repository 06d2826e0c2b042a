"""VAE with an inverse-autoregressive-flow posterior on the bundled 8x8 digits, dynamically
binarised, beside `vae_binarized_digits.py` (same encoder, decoder, latent size and optimiser;
only the posterior differs). Measured: IAF narrows the gap between the ELBO and the IW bound
(0.30 against 0.39 nats) but its model is not better at this size (WORKSPACE.md, VAEs); on AVB's
toy problem, where log p(x) is exact, the IAF ELBO is the tighter one (tests/vae/test_learning.py).

Paper: Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling 2016, "Improving Variational
Inference with Inverse Autoregressive Flow", arXiv:1606.04934 (IAF steps of MADE-style masked
networks reading the encoder's context h, orderings reversed between steps, the gated update
z = s * z + (1 - s) * m). Sizes are ours for 64 binary dimensions.
Command:
    python -m experiments.run --config experiments/configs/iaf_binarized_digits.py \\
        --workdir runs/iaf_digits
Hardware: 2 CPU cores, about a minute.
Expected: test NLL in nats (importance-weighted, k = 100), measured in this repo (WORKSPACE.md).
"""

from experiments.configs import _vae
from models.core.config import defaults, optimizer

MODEL_KW = {
    'latent_dim': 8,
    'encoder_hidden': (128, 128),
    'decoder_hidden': (128, 128),
    'likelihood': 'bernoulli',
    'binarize': 'dynamic',
    'iaf_steps': 2,
    'iaf_hidden': (64,),
    'context_dim': 32,
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
        'test/nll': 23.29,
        'test/elbo_nll': 23.59,
        'source': 'measured in this repo, 2026-12-02, 3,000 steps (no paper number)',
    }
    if arg == 'smoke':
        tiny = {
            **MODEL_KW,
            'latent_dim': 4,
            'encoder_hidden': (16,),
            'decoder_hidden': (16,),
            'iaf_steps': 1,
            'iaf_hidden': (8,),
            'context_dim': 4,
        }
        _vae.digits_smoke(c, tiny)
    return c
