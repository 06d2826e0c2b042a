"""Flow++'s logistic-mixture CDF couplings (Ho et al. 2019, arXiv:1902.00275) on the 2-D
checkerboard density, whose sharp edges affine couplings fit poorly: actnorm, 1x1 "convolution"
(a learned 2x2 linear map) and mixture-CDF coupling per step, MLP networks.

Paper: toy experiment, no table number.
Command:
    python -m experiments.run --config experiments/configs/flowpp_checkerboard.py \\
        --workdir runs/fpp_cb
    python -m experiments.density2d runs/fpp_cb    # the learned density next to the data (PNG)
Hardware: 2 CPU cores, a few minutes.
Expected: test nll 3.58 nats per point, measured in this repo (WORKSPACE.md); the true density is
uniform on 8 squares of side 2, entropy log(32) = 3.47 nats.
"""

from models.core.config import defaults, optimizer, smoke


def get_config(arg=None):
    c = defaults()
    c.model = 'flows.flowpp'
    c.model_kw = {'couplings': 6, 'features': 64, 'blocks': 2, 'components': 8, 'dropout': 0.0}
    c.data.name = 'checkerboard'
    c.train.steps = 3000
    c.train.batch_size = 256
    c.train.log_every = 100
    c.train.eval_every = 1000
    c.train.sample_every = 1000
    c.train.checkpoint_every = 1000
    c.optim.model = optimizer(lr=2e-3, schedule='cosine', clip_norm=1.0, ema_decay=0.99)
    c.eval.batch_size = 1000
    c.eval.num_samples = 2000
    c.expected = {'test/nll': 3.58, 'source': 'measured in this repo (no paper number)'}
    if arg == 'smoke':
        c.model_kw = {'couplings': 2, 'features': 8, 'blocks': 1, 'components': 2, 'dropout': 0.0}
        c.eval.max_batches = 1
        smoke(c, steps=4)
    return c
