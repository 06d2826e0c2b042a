"""Flow++ (Ho, Chen, Srinivas, Duan, Abbeel 2019, arXiv:1902.00275) on the bundled 8x8 digits
(17 levels): an offline check of variational dequantisation and mixture-CDF couplings.

Paper: the recipe of flowpp_cifar10.py, scaled down: 2 checkerboard steps at 8x8x1, a squeeze,
2 channel and 2 checkerboard steps at 4x4x4; networks of 1 gated block x 32 filters with
self-attention, 8 mixture components, dropout 0; a 2-step dequantisation flow; warm-up, clipping
and EMA as the paper.
Command:
    python -m experiments.run --config experiments/configs/flowpp_digits.py --workdir runs/fpp_d
Hardware: 2 CPU cores; about 55 minutes, compilation included, on the shared and heavily loaded
2-core machine of 2026-11-24 (far less when idle).
Expected: test bits/dim 2.12 measured in this repo (WORKSPACE.md); 1.93 at step 1,000, after which
it overfits the 1,437 training digits; the per-pixel baseline scores 2.435.
"""

from models.core.config import defaults, optimizer, smoke


def get_config(arg=None):
    c = defaults()
    c.model = 'flows.flowpp'
    c.model_kw = {
        'stages': (('checkerboard', 2), ('squeeze',), ('channel', 2), ('checkerboard', 2)),
        'features': 32,
        'blocks': 1,
        'heads': 2,
        'components': 8,
        'dropout': 0.0,
        'dequant_steps': 2,
        'dequant_features': 16,
        'dequant_blocks': 1,
        'dequant_components': 4,
    }
    c.data.name = 'digits8x8'
    c.train.steps = 2000
    c.train.batch_size = 64
    c.train.log_every = 100
    c.train.eval_every = 1000
    c.train.sample_every = 1000
    c.train.checkpoint_every = 1000
    c.optim.model = optimizer(
        lr=2e-3, schedule='cosine', warmup_steps=100, clip_norm=1.0, ema_decay=0.99
    )
    c.eval.batch_size = 360
    c.expected = {'test/bpd': 2.12, 'source': 'measured in this repo (no paper number)'}
    if arg == 'smoke':
        c.model_kw.stages = (('checkerboard', 1), ('squeeze',), ('channel', 1))
        c.model_kw.features = 4
        c.model_kw.components = 2
        c.model_kw.dequant_steps = 1
        c.model_kw.dequant_features = 4
        c.eval.batch_size = 40
        c.eval.max_batches = 1
        c.eval.num_samples = 8
        smoke(c, steps=4)
    return c
