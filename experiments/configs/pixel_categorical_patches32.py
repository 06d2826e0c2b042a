"""Per-pixel categorical baseline on the bundled 32x32x3 natural-image patches (256 levels).

Paper: none; the likelihood floor for colour models on the offline CIFAR-shaped patches (train:
astronaut, rocket, hubble_deep_field, immunohistochemistry, retina; test: coffee, chelsea).
Command:
    python -m experiments.run --config experiments/configs/pixel_categorical_patches32.py \\
        --workdir runs/patches_floor
Hardware: any CPU; under a minute on 2 cores.
Expected: test bits/dim 8.20, train 7.13 (measured in this repo, WORKSPACE.md; no paper number).
The test photos differ from the training photos: a colour histogram fitted to the training photos
is worse on them than the uniform 8 bits/dim, so this split measures generalisation across
photos, and models should be compared with each other on it, not with CIFAR-10 numbers.
"""

from models.core.config import defaults, optimizer, smoke


def get_config(arg=None):
    """The digits baseline's recipe (optimizer, schedule, EMA, logging) on the colour patches,
    written out so that a change to one config never moves the other."""
    c = defaults()
    c.model = 'baselines.pixel_categorical'
    c.model_kw = {'tie_positions': True}
    c.data.name = 'image_patches32'
    c.train.steps = 1000
    c.train.batch_size = 64
    c.train.log_every = 100
    c.train.eval_every = 500
    c.train.sample_every = 500
    c.train.checkpoint_every = 500
    c.optim.model = optimizer(lr=3e-2, schedule='cosine', ema_decay=0.99)
    c.eval.batch_size = 344  # 342 test patches, padded to a multiple of 8 devices
    c.expected = {'test/bpd': 8.20, 'source': 'measured in this repo (no paper number)'}
    if arg == 'smoke':
        smoke(c, steps=10)
    return c
