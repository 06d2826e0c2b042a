"""Flow++ on downsampled ImageNet 32x32: Flow++ (Ho, Chen, Srinivas, Duan, Abbeel 2019,
arXiv:1902.00275), table 1: 3.86 bits/dim.

Command:
    python -m experiments.run --config experiments/configs/flowpp_imagenet32.py \\
        --workdir runs/fpp_in32 --config.data.data_dir=/data/tfds
Hardware: 8 GPUs per the paper (unverified); not measured here (no GPU lent).
Hyperparameters (P: the official code aravindsrinivas/flowpp as summarised in PAPERS.md; U: our
reading of the paper, unverified):
- main flow: 4 checkerboard steps at 32x32x3, squeeze, 2 channel steps and 3 checkerboard steps
  at 16x16x12, each step actnorm + 1x1 conv + mixture-CDF coupling (U);
- coupling networks: 128 filters, 20 gated conv + self-attention blocks, 4 heads (U), no dropout
  (the larger dataset does not overfit; U), 32 logistic mixture components (P);
- variational dequantisation flow of 4 coupling layers (P) with 2-block networks of 96 filters (U);
- data-dependent init (P), EMA 0.999 (P), linear warm-up over 2,000 steps (P), gradient-norm clip
  1.0 (P), Adam lr 1e-3 (U), batch size 64 (U).
Expected: test/bpd 3.86.
"""

from experiments.configs._flows import FLOWPP_SMOKE_KW, image_smoke
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'flows.flowpp'
    c.model_kw = {
        'stages': (('checkerboard', 4), ('squeeze',), ('channel', 2), ('checkerboard', 3)),
        'features': 128,
        'blocks': 20,
        'heads': 4,
        'components': 32,
        'dropout': 0.0,
        'dequant_steps': 4,
        'dequant_features': 96,
        'dequant_blocks': 2,
    }
    c.data.name = 'downsampled_imagenet/32x32'
    c.train.steps = 500_000
    c.train.batch_size = 64
    c.train.log_every = 500
    c.train.eval_every = 10_000
    c.train.sample_every = 10_000
    c.train.checkpoint_every = 5_000
    c.optim.model = optimizer(lr=1e-3, warmup_steps=2000, clip_norm=1.0, ema_decay=0.999)
    # Self-attention over 1,024 positions: keep an eval batch's attention maps in memory.
    c.eval.batch_size = 64
    c.expected = {'test/bpd': 3.86, 'source': 'Ho et al. 2019, table 1'}
    if arg == 'smoke':
        image_smoke(c, FLOWPP_SMOKE_KW)
    return c
