"""PixelCNN++ on CIFAR-10 (Salimans, Karpathy, Chen & Kingma 2017, arXiv:1701.05517):
test 2.92 bits/dim (the paper, and the openai/pixel-cnn README).

Hyperparameters (all from the openai/pixel-cnn code and README):
5 gated ResNet blocks per scale, 3 scales, 160 filters, 10 logistic mixture components,
dropout 0.5, Adam lr 1e-3 with per-step decay 0.999995, Polyak/EMA 0.9995 for test and
sampling, weight norm with data-dependent init (on the trainer's first batch; the code uses 16
images), batch 16 per GPU on 8 GPUs = 128.
Command:
    python -m experiments.run --config experiments/configs/pixelcnnpp_cifar10.py \\
        --workdir runs/pixelcnnpp_cifar10
Hardware: about 5 days on 8 Maxwell TITAN X GPUs to 2.92 (3.0 after about 10 hours); a later
Flax port reached 2.923 in 1 day 14 h on 8 V100.
Expected: test/bpd 2.92.
"""

from experiments.configs import _autoregressive
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'autoregressive.pixelcnnpp'
    c.model_kw = {'filters': 160, 'num_resnet': 5, 'num_mix': 10, 'dropout': 0.5}
    c.data.name = 'cifar10'
    c.train.steps = 1_000_000
    c.train.batch_size = 128
    c.train.log_every = 500
    c.train.eval_every = 20_000
    c.train.sample_every = 20_000
    c.train.checkpoint_every = 5_000
    c.optim.model = optimizer(
        lr=1e-3, schedule='exponential', decay_steps=1, decay_rate=0.999995, ema_decay=0.9995
    )
    c.eval.batch_size = 400
    c.eval.num_samples = 16
    c.expected = {'test/bpd': 2.92, 'source': 'arXiv:1701.05517; openai/pixel-cnn README'}
    if arg == 'smoke':
        tiny = {'filters': 8, 'num_resnet': 1, 'num_mix': 2, 'dropout': 0.5, 'num_scales': 2}
        _autoregressive.patches_smoke(c, tiny)
    return c
