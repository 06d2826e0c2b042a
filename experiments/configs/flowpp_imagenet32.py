"""Flow++ on downsampled ImageNet 32x32: Flow++ (Ho, Chen, Srinivas, Duan, Abbeel 2019,
arXiv:1902.00275), table 1: 3.86 bits/dim.

Command:
    python -m experiments.run --config experiments/configs/flowpp_imagenet32.py \\
        --workdir runs/fpp_in32 --config.data.data_dir=/data/tfds
Hardware: 8 GPUs per the paper (unverified); not measured here (no GPU lent).
Hyperparameters: the CIFAR-10 recipe (flowpp_cifar10.py) with wider networks (128 filters,
unverified), 20 blocks (unverified) and no dropout (the larger dataset does not overfit; U).
Expected: test/bpd 3.86.
"""

from experiments.configs import flowpp_cifar10
from experiments.configs._flows import FLOWPP_SMOKE_KW, image_smoke


def get_config(arg=None):
    c = flowpp_cifar10.get_config()
    c.model_kw.features = 128
    c.model_kw.blocks = 20
    c.model_kw.dropout = 0.0
    c.data.name = 'downsampled_imagenet/32x32'
    c.expected = {'test/bpd': 3.86, 'source': 'Ho et al. 2019, table 1'}
    if arg == 'smoke':
        image_smoke(c, FLOWPP_SMOKE_KW)
    return c
