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
2.435. The recipe (optimizer, schedule, EMA) is the same as pixelcnn_digits', written out here.
"""

from experiments.configs import _autoregressive
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'autoregressive.pixelcnnpp'
    c.model_kw = {'filters': 32, 'num_resnet': 2, 'num_mix': 5, 'dropout': 0.5}
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
    c.expected = {'test/bpd': 1.79, 'source': 'measured in this repo (no paper number)'}
    # Printed next to this run's number: the independent per-pixel model, the floor to beat.
    c.expected.floor = {'test/bpd': 2.435, 'name': 'per-pixel baseline (pixel_categorical_digits)'}
    if arg == 'smoke':
        tiny = {'filters': 8, 'num_resnet': 1, 'num_mix': 2, 'dropout': 0.1, 'num_scales': 2}
        _autoregressive.digits_smoke(c, tiny)
    return c
