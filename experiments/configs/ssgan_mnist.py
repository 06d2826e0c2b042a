"""Semi-supervised K+1 GAN on MNIST with 100 labels (10 per class).

Paper: Salimans et al., "Improved Techniques for Training GANs", arXiv:1606.03498, Table 1:
93 +- 6.5 errors of 10,000 test digits with 100 labels (feature matching). From the released
code (train_mnist_feature_matching.py): Adam lr 3e-3, b1 0.5, batch 100, 300 epochs. Difference:
the paper's networks are MLPs (G 500-500 with softplus and batch norm, D 1000-500-250-250-250 with
Gaussian noise and weight norm); here the convolutional networks of this family, with dropout in D
instead of Gaussian noise, and the digits recipe's lr 3e-4 (the released 3e-3 is untested here
without weight norm).
Command:
    python -m experiments.run --config experiments/configs/ssgan_mnist.py --workdir runs/ss_mnist
Hardware: one GPU, or a CPU host in hours (the paper does not state its hardware).
Expected: test/errors 93 (of 10,000; paper, Table 1).
"""

from experiments.configs import _gan
from models.core.config import aux_source, defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'gan.semi_supervised'
    c.data.name = 'mnist'
    # 10 labelled digits per class (100), drawn 100 per step beside the unlabelled batch.
    c.data.aux.labelled = aux_source(split='train', batch_size=100, per_class=10, subset_seed=0)
    c.model_kw = {
        'latent_dim': 100,
        'gen_width': 64,
        'gen_hidden': 500,
        'disc_width': 64,
        'disc_extra_convs': 1,
        'disc_dropout': 0.3,
        'disc_input_dropout': 0.2,
    }
    c.train.steps = 180_000  # 300 epochs of 60,000 at batch 100
    c.train.batch_size = 100
    c.train.log_every = 100
    c.train.eval_every = 10_000
    c.train.sample_every = 10_000
    c.train.checkpoint_every = 5_000
    c.optim = {'disc': optimizer(lr=3e-4, b1=0.5), 'gen': optimizer(lr=3e-4, b1=0.5)}
    c.eval.batch_size = 500
    c.expected = {'test/errors': 93}
    if arg == 'smoke':
        # The same program as the other semi-supervised smoke variants (one compilation).
        _gan.semi_supervised_smoke(c)
    return c
