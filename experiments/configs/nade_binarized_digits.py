"""NADE on the bundled 8x8 digits binarised at level 8 of 17: the offline check that it learns.

Paper: Larochelle & Murray 2011, "The Neural Autoregressive Distribution Estimator" (AISTATS;
500 sigmoid hidden units as in its binarized-MNIST experiment, raster order). The recipe
(optimizer, schedule, EMA, data) is the same as made_binarized_digits', written out here.
Command:
    python -m experiments.run --config experiments/configs/nade_binarized_digits.py \\
        --workdir runs/nade_digits
Hardware: 2 CPU cores, under a minute.
Expected: test NLL in nats (test/nll) as measured in this repo (WORKSPACE.md).
"""

from experiments.configs import _autoregressive
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'autoregressive.nade'
    c.model_kw = {'hidden': 500, 'binarize_at': 8}
    c.data.name = 'digits8x8'
    c.train.steps = 1000
    c.train.batch_size = 64
    c.train.log_every = 100
    c.train.eval_every = 500
    c.train.sample_every = 500
    c.train.checkpoint_every = 500
    c.optim.model = optimizer(lr=1e-3, schedule='cosine', ema_decay=0.999)
    c.eval.batch_size = 360
    c.expected = {'test/nll': 19.0, 'source': 'measured in this repo (no paper number)'}
    if arg == 'smoke':
        _autoregressive.digits_smoke(c, {'hidden': 16, 'binarize_at': 8})
    return c
