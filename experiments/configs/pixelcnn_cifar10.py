"""PixelCNN on CIFAR-10 (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural
Networks", arXiv:1601.06759): test 3.14 bits/dim (the paper's CIFAR-10 table).

Hyperparameters and where they come from: the architecture of the paper's Figure 5 / Section 3.5
(7x7 mask-A input convolution, residual blocks of 1x1 -> 3x3 mask B -> 1x1, two 1x1 mask-B
output layers, a 256-way softmax per sub-pixel) with 15 residual blocks, h = 128 (256 feature
maps) and 1024 output units, as we read the paper's CIFAR-10 set-up; RMSProp in the paper, Adam
here (lr 1e-3, per-step exponential decay 0.999995 as in the PixelCNN++ code), batch 16 per
device, EMA 0.9995 (PixelCNN++'s Polyak decay); these optimizer choices are this repo's.
Command:
    python -m experiments.run --config experiments/configs/pixelcnn_cifar10.py \\
        --workdir runs/pixelcnn_cifar10 --config.train.batch_size=128
Hardware: the paper reports results, not its hardware or training time for this model; budget
days on 8 GPUs (PixelCNN++ took about 5 days on 8 TITAN X to 2.92).
Data: `tfds build cifar10 --data_dir=DIR --file_format=array_record` (WORKSPACE.md, Datasets);
the smoke variant runs a tiny model on the bundled 32x32x3 `image_patches32`.
Expected: test/bpd 3.14.
"""

from experiments.configs import _autoregressive
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'autoregressive.pixelcnn'
    c.model_kw = {'hidden': 128, 'num_blocks': 15, 'out_hidden': 1024, 'first_kernel': 7}
    c.data.name = 'cifar10'
    c.train.steps = 1_000_000
    c.train.batch_size = 16
    c.train.log_every = 500
    c.train.eval_every = 20_000
    c.train.sample_every = 20_000
    c.train.checkpoint_every = 5_000
    c.optim.model = optimizer(
        lr=1e-3, schedule='exponential', decay_steps=1, decay_rate=0.999995, ema_decay=0.9995
    )
    c.eval.batch_size = 400
    c.eval.num_samples = 16
    c.expected = {'test/bpd': 3.14, 'source': 'arXiv:1601.06759, CIFAR-10 table'}
    if arg == 'smoke':
        tiny = {'hidden': 8, 'num_blocks': 1, 'out_hidden': 16, 'first_kernel': 3}
        _autoregressive.patches_smoke(c, tiny)
    return c
