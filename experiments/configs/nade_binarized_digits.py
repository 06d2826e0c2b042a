"""NADE on the bundled 8x8 digits binarised at level 8 of 17: the offline check that it learns.

Paper: Larochelle & Murray 2011, "The Neural Autoregressive Distribution Estimator" (AISTATS;
500 sigmoid hidden units as in its binarized-MNIST experiment, raster order). The recipe
(optimizer, schedule, EMA, data) is made_binarized_digits'.
Command:
    python -m experiments.run --config experiments/configs/nade_binarized_digits.py \\
        --workdir runs/nade_digits
Hardware: 2 CPU cores, under a minute.
Expected: test NLL in nats (test/nll) as measured in this repo (WORKSPACE.md).
"""

from experiments.configs import made_binarized_digits
from models.core.config import smoke


def get_config(arg=None):
    c = made_binarized_digits.get_config()
    c.model = 'autoregressive.nade'
    c.model_kw = {'hidden': 500, 'binarize_at': 8}
    c.expected = {'test/nll': 19.0, 'source': 'measured in this repo (no paper number)'}
    if arg == 'smoke':
        smoke(c, steps=4)
        c.model_kw = {'hidden': 16, 'binarize_at': 8}
        c.eval.num_samples = 8
    return c
