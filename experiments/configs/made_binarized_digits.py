"""MADE on the bundled 8x8 digits binarised at level 8 of 17: the offline check that it learns.

Paper: Germain, Gregor, Murray & Larochelle 2015, "MADE: Masked Autoencoder for Distribution
Estimation", arXiv:1502.03509 (one hidden layer, order- and connectivity-agnostic training over a
fixed set of masks and the mask-ensemble likelihood at test time, as in its Section 4; 500 hidden
units and 8 masks are our choices for 64 dimensions).
Command:
    python -m experiments.run --config experiments/configs/made_binarized_digits.py \\
        --workdir runs/made_digits
Hardware: 2 CPU cores, under a minute.
Expected: test NLL in nats (test/nll) as measured in this repo (WORKSPACE.md); independent
Bernoulli marginals are the floor to beat.
"""

from experiments.configs import _autoregressive
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'autoregressive.made'
    c.model_kw = {'hidden': (500,), 'num_masks': 8, 'order_agnostic': True, 'binarize_at': 8}
    c.data.name = 'digits8x8'
    c.train.steps = 1000
    c.train.batch_size = 64
    c.train.log_every = 100
    c.train.eval_every = 500
    c.train.sample_every = 500
    c.train.checkpoint_every = 500
    c.optim.model = optimizer(lr=1e-3, schedule='cosine', ema_decay=0.999)
    c.eval.batch_size = 360
    c.expected = {'test/nll': 19.4, 'source': 'measured in this repo (no paper number)'}
    if arg == 'smoke':
        tiny = {'hidden': (16,), 'num_masks': 2, 'order_agnostic': True, 'binarize_at': 8}
        _autoregressive.digits_smoke(c, tiny)
    return c
