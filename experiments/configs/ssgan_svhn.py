"""Semi-supervised K+1 GAN on SVHN with 1,000 labels (100 per class).

Paper: Salimans et al., "Improved Techniques for Training GANs", arXiv:1606.03498, Table 3:
8.11 +- 1.3% test error with 1,000 labels. The CIFAR-10 recipe and networks of ssgan_cifar10.py
(the paper uses the same architecture for SVHN); tfds' `svhn_cropped` train split (73,257
digits, without the extra split).
Command:
    python -m experiments.run --config experiments/configs/ssgan_svhn.py --workdir runs/ss_svhn
Hardware: one GPU (not stated in the paper).
Expected: test/error 0.0811 (paper, Table 3).
"""

from experiments.configs import _gan
from models.core.config import aux_source, defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'gan.semi_supervised'
    c.data.name = 'svhn_cropped'
    # 100 labelled digits per class (1,000), drawn 100 per step beside the unlabelled batch.
    c.data.aux.labelled = aux_source(split='train', batch_size=100, per_class=100, subset_seed=0)
    c.model_kw = {
        'latent_dim': 100,
        'gen_width': 128,
        'disc_width': 96,
        'disc_extra_convs': 2,
        'disc_downsamplings': 2,
        'disc_global_pool': True,
        'disc_dropout': 0.5,
        'disc_input_dropout': 0.2,
    }
    c.train.steps = 300_000
    c.train.batch_size = 100
    c.train.log_every = 100
    c.train.eval_every = 10_000
    c.train.sample_every = 10_000
    c.train.checkpoint_every = 5_000
    c.optim = {'disc': optimizer(lr=3e-4, b1=0.5), 'gen': optimizer(lr=3e-4, b1=0.5)}
    c.eval.batch_size = 500
    c.expected = {'test/error': 0.0811}
    if arg == 'smoke':
        _gan.semi_supervised_smoke(c)  # the same program as the other smoke variants
    return c
