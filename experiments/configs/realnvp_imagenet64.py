"""RealNVP on downsampled ImageNet 64x64: Density estimation using Real NVP (Dinh,
Sohl-Dickstein, Bengio 2016, arXiv:1605.08803), table 1: 3.98 bits/dim.

Command:
    python -m experiments.run --config experiments/configs/realnvp_imagenet64.py \\
        --workdir runs/rnvp_in64 --config.data.data_dir=/data/tfds
Hardware: not stated in the paper (unverified); not measured here (no GPU lent).
Hyperparameters: the ImageNet 32x32 recipe (realnvp_imagenet32.py) with 2 residual blocks of 32
feature maps and one more scale (scales=4) for the larger images (both unverified), batch size 64.
Expected: test/bpd 3.98.
"""

from experiments.configs import realnvp_imagenet32
from experiments.configs._flows import REALNVP_SMOKE_KW, image_smoke


def get_config(arg=None):
    c = realnvp_imagenet32.get_config()
    c.model_kw = {'scales': 4, 'features': 32, 'blocks': 2, 'norm': 'batchnorm'}
    c.data.name = 'downsampled_imagenet/64x64'
    c.eval.batch_size = 128
    c.expected = {'test/bpd': 3.98, 'source': 'Dinh et al. 2016, table 1'}
    if arg == 'smoke':
        image_smoke(c, REALNVP_SMOKE_KW)
    return c
