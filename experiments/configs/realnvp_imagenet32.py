"""RealNVP on downsampled ImageNet 32x32: Density estimation using Real NVP (Dinh,
Sohl-Dickstein, Bengio 2016, arXiv:1605.08803), table 1: 4.28 bits/dim.

Command:
    python -m experiments.run --config experiments/configs/realnvp_imagenet32.py \\
        --workdir runs/rnvp_in32 --config.data.data_dir=/data/tfds
Hardware: not stated in the paper (unverified); not measured here (no GPU lent).
Hyperparameters: the CIFAR-10 recipe (realnvp_cifar10.py) except, per section 4.1 as we read it,
the ImageNet models use 4 residual blocks of 32 feature maps (unverified) and squeeze twice
(scales=3, unverified); no flip augmentation for ImageNet.
Expected: test/bpd 4.28.
"""

from experiments.configs import realnvp_cifar10
from experiments.configs._flows import REALNVP_SMOKE_KW, image_smoke


def get_config(arg=None):
    c = realnvp_cifar10.get_config()
    c.model_kw = {'scales': 3, 'features': 32, 'blocks': 4, 'norm': 'batchnorm'}
    c.data.name = 'downsampled_imagenet/32x32'
    c.expected = {'test/bpd': 4.28, 'source': 'Dinh et al. 2016, table 1'}
    if arg == 'smoke':
        image_smoke(c, REALNVP_SMOKE_KW)
    return c
