"""PixelCNN on the bundled 8x8 digits (17 grey levels): the offline check that the model learns.

Paper: van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks",
arXiv:1601.06759 (the PixelCNN architecture of its Section 3.5, shrunk to 8x8 images: 5x5 mask-A
input convolution, 4 residual blocks of h = 32, a 64-unit mask-B output layer; none of these
sizes is from the paper, which has no 8x8 experiment).
Command:
    python -m experiments.run --config experiments/configs/pixelcnn_digits.py --workdir runs/pcnn
Hardware: 2 CPU cores (config.mesh.cpu_devices = 2), about a minute.
Expected: test bits/dim as measured in this repo (WORKSPACE.md); the per-pixel baseline scores
2.435, the uniform distribution log2(17) = 4.09.
"""

from experiments.configs import _autoregressive
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'autoregressive.pixelcnn'
    c.model_kw = {'hidden': 32, 'num_blocks': 4, 'out_hidden': 64, 'first_kernel': 5}
    c.data.name = 'digits8x8'
    # 1,437 training images: longer runs overfit (PixelCNN, 3,000 steps: train 1.45, test 2.05).
    c.train.steps = 1000
    c.train.batch_size = 64
    c.train.log_every = 100
    c.train.eval_every = 500
    c.train.sample_every = 500
    c.train.checkpoint_every = 500
    c.optim.model = optimizer(lr=2e-3, schedule='cosine', warmup_steps=100, ema_decay=0.999)
    c.eval.batch_size = 360
    c.mesh.cpu_devices = 2
    c.expected = {'test/bpd': 1.86, 'source': 'measured in this repo (no paper number)'}
    # Printed next to this run's number: the independent per-pixel model, the floor to beat.
    c.expected.floor = {'test/bpd': 2.435, 'name': 'per-pixel baseline (pixel_categorical_digits)'}
    if arg == 'smoke':
        tiny = {'hidden': 8, 'num_blocks': 1, 'out_hidden': 16, 'first_kernel': 3}
        _autoregressive.digits_smoke(c, tiny)
    return c
