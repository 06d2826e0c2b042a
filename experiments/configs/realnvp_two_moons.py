"""RealNVP (Dinh, Sohl-Dickstein, Bengio 2016, arXiv:1605.08803) on the 2-D two-moons density:
affine couplings with alternating masks, MLP networks, actnorm; exact log-likelihood.

Paper: figure-style toy experiment, no table number.
Command:
    python -m experiments.run --config experiments/configs/realnvp_two_moons.py \\
        --workdir runs/rnvp_tm
    python -m experiments.density2d runs/rnvp_tm    # the learned density next to the data (PNG)
Hardware: 2 CPU cores, about a minute.
Expected: test nll 2.40 nats per point, measured in this repo (WORKSPACE.md); the data's entropy
is about 2.34 nats (arcs of total length 4 pi, noise std 0.2).
"""

from models.core.config import defaults, optimizer, smoke


def get_config(arg=None):
    c = defaults()
    c.model = 'flows.realnvp'
    c.model_kw = {'couplings': 8, 'features': 64, 'blocks': 2, 'norm': 'actnorm'}
    c.data.name = 'two_moons'
    c.train.steps = 3000
    c.train.batch_size = 256
    c.train.log_every = 100
    c.train.eval_every = 1000
    c.train.sample_every = 1000
    c.train.checkpoint_every = 1000
    c.optim.model = optimizer(lr=2e-3, schedule='cosine', ema_decay=0.99)
    c.eval.batch_size = 1000
    c.eval.num_samples = 2000
    c.expected = {'test/nll': 2.40, 'source': 'measured in this repo (no paper number)'}
    if arg == 'smoke':
        c.model_kw = {'couplings': 2, 'features': 8, 'blocks': 1, 'norm': 'actnorm'}
        c.eval.max_batches = 1
        smoke(c, steps=4)
    return c
