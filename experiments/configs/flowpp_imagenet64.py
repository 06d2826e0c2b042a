"""Flow++ on downsampled ImageNet 64x64: Flow++ (Ho, Chen, Srinivas, Duan, Abbeel 2019,
arXiv:1902.00275), table 1: 3.69 bits/dim.

Command:
    python -m experiments.run --config experiments/configs/flowpp_imagenet64.py \\
        --workdir runs/fpp_in64 --config.data.data_dir=/data/tfds
Hardware: 8 GPUs per the paper (unverified); not measured here (no GPU lent).
Hyperparameters: the ImageNet 32x32 recipe (flowpp_imagenet32.py) with a squeeze first, so that
attention runs over at most 32x32 positions (our choice, unverified: the paper's 64x64
architecture is not transcribed here), 96 filters, 32 eval images per batch.
Expected: test/bpd 3.69.
"""

from experiments.configs import flowpp_imagenet32
from experiments.configs._flows import FLOWPP_SMOKE_KW, image_smoke


def get_config(arg=None):
    c = flowpp_imagenet32.get_config()
    c.model_kw.stages = (
        ('squeeze',),
        ('checkerboard', 4),
        ('squeeze',),
        ('channel', 2),
        ('checkerboard', 3),
    )
    c.model_kw.features = 96
    c.data.name = 'downsampled_imagenet/64x64'
    c.eval.batch_size = 32
    c.expected = {'test/bpd': 3.69, 'source': 'Ho et al. 2019, table 1'}
    if arg == 'smoke':
        image_smoke(c, FLOWPP_SMOKE_KW)
    return c
