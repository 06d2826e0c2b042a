"""Gated PixelCNN on the bundled 8x8 digits (17 grey levels), class-conditional on the digit.

Paper: van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders",
arXiv:1606.05328 (gated vertical/horizontal stacks and the class-conditional variant of its
Sections 2.2-2.3, shrunk to 8x8: 6 layers of 32 features, 3x3 kernels, a 64-unit output layer;
these sizes are ours, the paper has no 8x8 experiment).
Command:
    python -m experiments.run --config experiments/configs/gated_pixelcnn_digits.py \\
        --workdir runs/gated
Hardware: 2 CPU cores (config.mesh.cpu_devices = 2), a few minutes.
Expected: test bits/dim as measured in this repo (WORKSPACE.md); the per-pixel baseline scores
2.435. The recipe (optimizer, schedule, EMA) is the same as pixelcnn_digits', written out here.
"""

from experiments.configs import _autoregressive
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'autoregressive.gated_pixelcnn'
    c.model_kw = {
        'features': 32,
        'num_layers': 6,
        'kernel_size': 3,
        'out_hidden': 64,
        'class_conditional': True,
    }
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
    c.expected = {
        'test/bpd': 1.72,
        'source': 'measured in this repo, no paper number (1.7237 on 2026-12-02, 2-core CPU)',
    }
    # Printed next to this run's number: the independent per-pixel model, the floor to beat.
    c.expected.floor = {'test/bpd': 2.435, 'name': 'per-pixel baseline (pixel_categorical_digits)'}
    if arg == 'smoke':
        tiny = {
            'features': 8,
            'num_layers': 2,
            'kernel_size': 3,
            'out_hidden': 16,
            'class_conditional': True,
        }
        _autoregressive.digits_smoke(c, tiny)
    return c
