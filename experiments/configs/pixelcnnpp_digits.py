"""PixelCNN++ on the bundled 8x8 digits (17 grey levels; the logistic mixture uses 17 bins).

Paper: Salimans, Karpathy, Chen & Kingma 2017, "PixelCNN++", arXiv:1701.05517 (architecture and
training recipe of the paper and the openai/pixel-cnn code: 3 scales, gated ResNets, concat_elu,
weight norm with data-dependent init, Adam, EMA; shrunk to 8x8 here: 32 filters, 2 blocks per
scale, 5 mixture components; these sizes are ours; dropout 0.5 is the paper's, and needed: with
0.1 the test bits/dim rose from 1.77 at step 400 to 1.95 at step 800).
Command:
    python -m experiments.run --config experiments/configs/pixelcnnpp_digits.py \\
        --workdir runs/pcnnpp
Hardware: 2 CPU cores (config.mesh.cpu_devices = 2), a few minutes.
Expected: test bits/dim as measured in this repo (WORKSPACE.md); the per-pixel baseline scores
2.435. The recipe (optimizer, schedule, EMA) is pixelcnn_digits'.
"""

from experiments.configs import pixelcnn_digits
from models.core.config import smoke


def get_config(arg=None):
    c = pixelcnn_digits.get_config()
    c.model = 'autoregressive.pixelcnnpp'
    c.model_kw = {'filters': 32, 'num_resnet': 2, 'num_mix': 5, 'dropout': 0.5}
    c.expected = {
        'test/bpd': 1.79,
        'source': 'measured in this repo (no paper number)',
    }
    if arg == 'smoke':
        smoke(c, steps=4)
        c.model_kw = {'filters': 8, 'num_resnet': 1, 'num_mix': 2, 'dropout': 0.1, 'num_scales': 2}
        c.eval.num_samples = 8
    return c
