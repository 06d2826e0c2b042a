"""RealNVP (Dinh, Sohl-Dickstein, Bengio 2016, arXiv:1605.08803) on the bundled 8x8 digits
(17 levels): an offline check that the multi-scale flow learns far beyond the per-pixel floor.

Paper: the architecture of realnvp_cifar10.py, scaled down: 2 scales (8x8x1 -> 4x4x4, factor out
2 channels, 4x4x2), ResNets of 2 blocks x 32 features, actnorm instead of batch norm (batches of
64 digits give noisy batch statistics), cosine-decayed Adam, EMA for evaluation.
Command:
    python -m experiments.run --config experiments/configs/realnvp_digits.py --workdir runs/rnvp_d
Hardware: 2 CPU cores; 3.3 minutes on the shared, loaded machine of 2026-11-24.
Expected: test bits/dim measured in this repo (WORKSPACE.md); the per-pixel baseline scores
2.435 and the uniform distribution log2(17) = 4.09.
"""

from models.core.config import defaults, optimizer, smoke


def get_config(arg=None):
    c = defaults()
    c.model = 'flows.realnvp'
    c.model_kw = {'scales': 2, 'features': 16, 'blocks': 1, 'norm': 'actnorm'}
    c.data.name = 'digits8x8'
    c.train.steps = 1500
    c.train.batch_size = 64
    c.train.log_every = 100
    c.train.eval_every = 500
    c.train.sample_every = 1000
    c.train.checkpoint_every = 1000
    c.optim.model = optimizer(
        lr=2e-3, schedule='cosine', warmup_steps=100, weight_decay=5e-5, ema_decay=0.99
    )
    c.eval.batch_size = 360
    c.expected = {'test/bpd': 2.05, 'source': 'measured in this repo (no paper number)'}
    if arg == 'smoke':
        c.model_kw = {'scales': 2, 'features': 4, 'blocks': 1, 'norm': 'actnorm'}
        c.eval.batch_size = 40
        c.eval.max_batches = 1
        c.eval.num_samples = 8
        smoke(c, steps=4)
    return c
