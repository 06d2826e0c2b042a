"""InfoGAN on the bundled 8x8 digits: does the 10-way categorical code find digit identity?

Paper: Chen et al., "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets", arXiv:1606.03657. The paper's MNIST recipe (Cat(10) + 2
Uniform(-1, 1) codes, lambda 1, D lr 2e-4 and G lr 1e-3 with Adam b1 0.5, batch norm) on
networks sized for 8x8 images and fewer noise dimensions (16, not 62: the images have 64 pixels).
Command:
    python -m experiments.run --config experiments/configs/infogan_digits.py --workdir runs/infogan
Hardware: 2 CPU cores, about 3 minutes.
Expected: measured here, code accuracy 0.567 on the 360 test digits after 10,000 steps (0.44
after 3,000); chance is 0.1 (a best matching of random codes gets a little more). The paper's
MNIST code reaches about 0.95.
"""

from experiments.configs import _gan
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'gan.infogan'
    c.data.name = 'digits8x8'
    c.model_kw = {'noise_dim': 16, 'gen_width': 64, 'gen_hidden': 256, 'disc_width': 64}
    c.train.steps = 10_000
    c.train.batch_size = 64
    c.train.log_every = 100
    c.train.eval_every = 2000
    c.train.sample_every = 2000
    c.train.checkpoint_every = 2000
    c.optim = {'disc': optimizer(lr=2e-4, b1=0.5), 'gen': optimizer(lr=1e-3, b1=0.5)}
    c.eval.batch_size = 360
    c.expected = {
        'test/code_accuracy': 0.567,
        'source': 'measured in this repo, 10,000 steps (paper: about 0.95 on MNIST)',
    }
    if arg == 'smoke':
        _gan.infogan_digits_smoke(c)
    return c
