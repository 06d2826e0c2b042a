"""NICE on CIFAR-10: NICE: Non-linear Independent Components Estimation (Dinh, Krueger, Bengio
2014, arXiv:1410.8516), table 2: 4.48 bits/dim (as transcribed in PAPERS.md, S x2; the paper
reports a log-likelihood, which later papers convert to bits/dim).

Command:
    python -m experiments.run --config experiments/configs/nice_cifar10.py --workdir runs/nice_c10
Hardware: not stated in the paper (unverified); not measured here (no GPU lent).
Hyperparameters, from our reading of the paper's section 5 (all unverified):
- 4 additive coupling layers on the flattened image, each an MLP of 4 hidden layers of 2000
  rectified units, alternating halves; a diagonal scaling layer (actnorm here); logistic prior;
- uniform dequantisation into [0, 1) (data rescaled by 1/256), no logit;
- Adam with lr 1e-3, b1 0.9, b2 0.01, eps 1e-4 as the paper states them; batch size 64 (ours);
- the paper's ZCA whitening of CIFAR-10 (if any) is not implemented.
Expected: test/bpd 4.48.
"""

from experiments.configs._flows import image_smoke
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'flows.nice'
    c.model_kw = {'couplings': 4, 'features': 2000, 'layers': 4, 'prior': 'logistic'}
    c.data.name = 'cifar10'
    c.train.steps = 500_000
    c.train.batch_size = 64
    c.train.log_every = 500
    c.train.eval_every = 10_000
    c.train.sample_every = 10_000
    c.train.checkpoint_every = 5_000
    c.optim.model = optimizer(lr=1e-3, b1=0.9, b2=0.01, eps=1e-4)
    c.eval.batch_size = 256
    c.eval.use_ema = False
    c.expected = {'test/bpd': 4.48, 'source': 'Dinh et al. 2014 as transcribed in PAPERS.md'}
    if arg == 'smoke':
        image_smoke(c, {'couplings': 2, 'features': 8, 'layers': 1, 'prior': 'logistic'})
    return c
