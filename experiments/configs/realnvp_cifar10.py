"""RealNVP on CIFAR-10: Density estimation using Real NVP (Dinh, Sohl-Dickstein, Bengio 2016,
arXiv:1605.08803), table 1: 3.49 bits/dim on the test set.

Command:
    python -m experiments.run --config experiments/configs/realnvp_cifar10.py \\
        --workdir runs/rnvp_c10
    (needs cifar10 prepared as array_record in --config.data.data_dir; see WORKSPACE.md)
Hardware: the paper does not state its hardware or training time (unverified); budget several
GPU-days. On 1 GPU here: not measured (no GPU lent).
Hyperparameters, from section 4.1 of the paper unless marked:
- multi-scale architecture with one squeeze ("downscale only once" for CIFAR-10): scales=2;
- ResNet s/t networks with 8 residual blocks of 64 feature maps, weight norm;
- batch normalisation after couplings (norm='batchnorm');
- logit preprocessing alpha = 0.05, uniform dequantisation, Gaussian prior;
- Adam with default settings (lr 1e-3), L2 weight decay 5e-5, batch size 64;
- training length: not stated in the paper; 500k steps here (our choice, unverified);
- horizontal-flip augmentation: not implemented (the shared loader has no augmentation).
Expected: test/bpd 3.49 (dequantised bound, the paper's convention).
"""

from experiments.configs._flows import REALNVP_SMOKE_KW, image_smoke
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'flows.realnvp'
    c.model_kw = {'scales': 2, 'features': 64, 'blocks': 8, 'norm': 'batchnorm'}
    c.data.name = 'cifar10'
    c.train.steps = 500_000
    c.train.batch_size = 64
    c.train.log_every = 500
    c.train.eval_every = 10_000
    c.train.sample_every = 10_000
    c.train.checkpoint_every = 5_000
    c.optim.model = optimizer(lr=1e-3, weight_decay=5e-5, ema_decay=0.0)
    c.eval.batch_size = 256
    c.eval.use_ema = False
    c.expected = {'test/bpd': 3.49, 'source': 'Dinh et al. 2016, table 1'}
    if arg == 'smoke':
        image_smoke(c, REALNVP_SMOKE_KW)
    return c
