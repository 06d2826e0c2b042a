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

from experiments.configs import made_binarized_mnist, nade_binarized_digits
from models.core.config import smoke


def get_config(arg=None):
    c = made_binarized_mnist.get_config()
    c.model = 'autoregressive.nade'
    c.model_kw = {'hidden': 500}
    c.expected = {'test/nll': 88.33, 'source': 'MADE paper, NADE 1 hidden layer'}
    if arg == 'smoke':
        c = nade_binarized_digits.get_config('smoke')
        c.expected = {'test/nll': 88.33, 'source': 'MADE paper (smoke runs on binarised digits)'}
        smoke(c, steps=4)
    return c
