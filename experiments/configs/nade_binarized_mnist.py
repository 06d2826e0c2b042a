"""NADE on binarized MNIST (Larochelle & Murray's fixed binarisation, tfds `binarized_mnist`).

Paper: Larochelle & Murray 2011, "The Neural Autoregressive Distribution Estimator"; the number
is the one the MADE paper (arXiv:1502.03509) reports for NADE with one hidden layer of 500 units
on this binarisation: test NLL 88.33 nats (as transcribed in this repo; check against the paper
before quoting). Hyperparameters: 500 sigmoid hidden units, raster order (the paper's); Adam,
cosine schedule, batch 100, EMA 0.999 are this repo's choices (the paper used SGD with early
stopping on the validation split).
Command:
    python -m experiments.run --config experiments/configs/nade_binarized_mnist.py \\
        --workdir runs/nade_mnist
Hardware: the paper does not state it; one CPU host suffices.
Data: `tfds build binarized_mnist --data_dir=DIR --file_format=array_record` (WORKSPACE.md).
Expected: test/nll 88.33 nats.
"""

from experiments.configs import _autoregressive
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'autoregressive.nade'
    c.model_kw = {'hidden': 500}
    c.data.name = 'binarized_mnist'
    c.train.steps = 200_000
    c.train.batch_size = 100
    c.train.log_every = 100
    c.train.eval_every = 10_000
    c.train.sample_every = 10_000
    c.train.checkpoint_every = 10_000
    c.optim.model = optimizer(lr=1e-3, schedule='cosine', ema_decay=0.999)
    c.eval.batch_size = 1000
    c.expected = {'test/nll': 88.33, 'source': 'MADE paper, NADE 1 hidden layer'}
    if arg == 'smoke':
        # binarized_mnist is not bundled: the digits, binarised.
        _autoregressive.digits_smoke(c, {'hidden': 16, 'binarize_at': 8})
        c.expected = {'test/nll': 88.33, 'source': 'MADE paper (smoke runs on binarised digits)'}
    return c
