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
2.435. The recipe (optimizer, schedule, EMA) is pixelcnn_digits'.
"""

from experiments.configs import pixelcnn_digits
from models.core.config import smoke


def get_config(arg=None):
    c = pixelcnn_digits.get_config()
    c.model = 'autoregressive.gated_pixelcnn'
    c.model_kw = {
        'features': 32,
        'num_layers': 6,
        'kernel_size': 3,
        'out_hidden': 64,
        'class_conditional': True,
    }
    c.expected = {'test/bpd': 1.71, 'source': 'measured in this repo (no paper number)'}
    if arg == 'smoke':
        smoke(c, steps=4)
        c.model_kw = {
            'features': 8,
            'num_layers': 2,
            'kernel_size': 3,
            'out_hidden': 16,
            'class_conditional': True,
        }
        c.eval.num_samples = 8
    return c
