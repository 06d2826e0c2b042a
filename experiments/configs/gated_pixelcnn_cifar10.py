"""Gated PixelCNN on CIFAR-10 (van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves &
Kavukcuoglu 2016, "Conditional Image Generation with PixelCNN Decoders", arXiv:1606.05328):
test 3.03 bits/dim (the paper's Table 1, unconditional).

Hyperparameters and where they come from: gated vertical and horizontal stacks of the paper's
Figure 2 with 20 layers of 384 feature maps and 5x5 kernels (the paper states 20 layers, 384
units and 5x5 filters for its ImageNet models; we use the same for CIFAR-10, which it does not
list separately), a 1024-unit output layer and a 256-way softmax. Optimizer, schedule, batch and
EMA are this repo's choices (the same as pixelcnn_cifar10's; the paper does not give them for
CIFAR-10).
Command:
    python -m experiments.run --config experiments/configs/gated_pixelcnn_cifar10.py \\
        --workdir runs/gated_cifar10 --config.train.batch_size=128
Hardware: not stated for CIFAR-10 (the paper's ImageNet models trained on 32 GPUs for 60 hours).
Expected: test/bpd 3.03.
"""

from experiments.configs import _autoregressive
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'autoregressive.gated_pixelcnn'
    c.model_kw = {'features': 384, 'num_layers': 20, 'kernel_size': 5, 'out_hidden': 1024}
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
    c.expected = {'test/bpd': 3.03, 'source': 'arXiv:1606.05328, Table 1'}
    if arg == 'smoke':
        tiny = {'features': 8, 'num_layers': 2, 'kernel_size': 3, 'out_hidden': 16}
        _autoregressive.patches_smoke(c, tiny)
    return c
