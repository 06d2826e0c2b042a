"""Gated PixelCNN on CIFAR-10 (van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves &
Kavukcuoglu 2016, "Conditional Image Generation with PixelCNN Decoders", arXiv:1606.05328):
test 3.03 bits/dim (the paper's Table 1, unconditional).

Hyperparameters and where they come from: gated vertical and horizontal stacks of the paper's
Figure 2 with 20 layers of 384 feature maps and 5x5 kernels (the paper states 20 layers, 384
units and 5x5 filters for its ImageNet models; we use the same for CIFAR-10, which it does not
list separately), a 1024-unit output layer and a 256-way softmax. Optimizer, schedule, batch and
EMA are pixelcnn_cifar10's (this repo's choices; the paper does not give them for CIFAR-10).
Command:
    python -m experiments.run --config experiments/configs/gated_pixelcnn_cifar10.py \\
        --workdir runs/gated_cifar10 --config.train.batch_size=128
Hardware: not stated for CIFAR-10 (the paper's ImageNet models trained on 32 GPUs for 60 hours).
Expected: test/bpd 3.03.
"""

from experiments.configs import pixelcnn_cifar10


def get_config(arg=None):
    c = pixelcnn_cifar10.get_config()
    c.model = 'autoregressive.gated_pixelcnn'
    c.model_kw = {'features': 384, 'num_layers': 20, 'kernel_size': 5, 'out_hidden': 1024}
    c.expected = {'test/bpd': 3.03, 'source': 'arXiv:1606.05328, Table 1'}
    if arg == 'smoke':
        c.model_kw = {'features': 8, 'num_layers': 2, 'kernel_size': 3, 'out_hidden': 16}
        pixelcnn_cifar10.smoke_on_patches(c)
    return c
