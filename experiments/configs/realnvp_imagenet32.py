"""RealNVP on downsampled ImageNet 32x32: Density estimation using Real NVP (Dinh,
Sohl-Dickstein, Bengio 2016, arXiv:1605.08803), table 1: 4.28 bits/dim.

Command:
    python -m experiments.run --config experiments/configs/realnvp_imagenet32.py \\
        --workdir runs/rnvp_in32 --config.data.data_dir=/data/tfds
Hardware: not stated in the paper (unverified); not measured here (no GPU lent).
Hyperparameters, from section 4.1 of the paper unless marked:
- multi-scale architecture squeezing twice: scales=3 (unverified);
- ResNet s/t networks with 4 residual blocks of 32 feature maps (unverified), weight norm;
- batch normalisation after couplings (norm='batchnorm');
- logit preprocessing alpha = 0.05, uniform dequantisation, Gaussian prior;
- Adam with default settings (lr 1e-3), L2 weight decay 5e-5, batch size 64;
- training length: not stated in the paper; 500k steps here (our choice, unverified);
- no flip augmentation for ImageNet.
Expected: test/bpd 4.28 (dequantised bound, the paper's convention).
"""

from experiments.configs._flows import REALNVP_SMOKE_KW, image_smoke
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'flows.realnvp'
    c.model_kw = {'scales': 3, 'features': 32, 'blocks': 4, 'norm': 'batchnorm'}
    c.data.name = 'downsampled_imagenet/32x32'
    c.train.steps = 500_000
    c.train.batch_size = 64
    c.train.log_every = 500
    c.train.eval_every = 10_000
    c.train.sample_every = 10_000
    c.train.checkpoint_every = 5_000
    c.optim.model = optimizer(lr=1e-3, weight_decay=5e-5, ema_decay=0.0)
    c.eval.batch_size = 256
    c.eval.use_ema = False
    c.expected = {'test/bpd': 4.28, 'source': 'Dinh et al. 2016, table 1'}
    if arg == 'smoke':
        image_smoke(c, REALNVP_SMOKE_KW)
    return c
