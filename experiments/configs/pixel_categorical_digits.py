"""Per-pixel categorical baseline on the bundled 8x8 digits (17 grey levels).

Paper: none, this is the floor every likelihood model in the repo must beat (independent
marginals per pixel; no dependence between pixels).
Command:
    python -m experiments.run --config experiments/configs/pixel_categorical_digits.py \\
        --workdir runs/demo
Hardware: any CPU; about 15 s on 2 cores, start-up and compilation included.
Expected: test bits/dim 2.435 (measured in this repo, WORKSPACE.md; no paper number); the
uniform distribution scores log2(17) = 4.09.
"""

from models.core.config import defaults, optimizer, smoke


def get_config(arg=None):
    c = defaults()
    c.model = 'baselines.pixel_categorical'
    c.data.name = 'digits8x8'
    c.train.steps = 2000
    c.train.batch_size = 64
    c.train.log_every = 100
    c.train.eval_every = 500
    c.train.sample_every = 500
    c.train.checkpoint_every = 500
    c.optim.model = optimizer(lr=3e-2, schedule='cosine', ema_decay=0.99)
    c.eval.batch_size = 360
    c.expected = {'test/bpd': 2.435, 'source': 'measured in this repo (no paper number)'}
    if arg == 'smoke':
        smoke(c, steps=20)
    return c
