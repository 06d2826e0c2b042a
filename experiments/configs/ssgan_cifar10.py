"""Semi-supervised K+1 GAN on CIFAR-10 with 4,000 labels (400 per class).

Paper: Salimans et al., "Improved Techniques for Training GANs", arXiv:1606.03498, Table 2:
18.63 +- 2.32% test error with 4,000 labels (feature matching). From the released code
(openai/improved-gan, train_cifar_feature_matching.py): Adam lr 3e-4, b1 0.5, batch 100, the
unsupervised loss weighted 1/2, dropout 0.2 on D's input and 0.5 after each stage, D of 3x3
convolutions (96 then 192 channels, two stride-1 layers before each stride-2 one) with global
average pooling, G 4x4x512 -> 256 -> 128 -> 3 with batch norm. Differences: no weight
normalisation and no network-in-network layers in D; the released code anneals the learning
rate over its last epochs (not here); it trains 1,200 epochs (600,000 steps at batch 100).
Command:
    python -m experiments.run --config experiments/configs/ssgan_cifar10.py --workdir runs/ss_c10
Hardware: one GPU (the paper does not state its hardware).
Expected: test/error 0.1863 (paper, Table 2).
"""

from experiments.configs import _gan
from models.core.config import aux_source, defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'gan.semi_supervised'
    c.data.name = 'cifar10'
    # 400 labelled images per class (4,000), drawn 100 per step beside the unlabelled batch.
    c.data.aux.labelled = aux_source(split='train', batch_size=100, per_class=400, subset_seed=0)
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
    c.train.steps = 600_000
    c.train.batch_size = 100
    c.train.log_every = 100
    c.train.eval_every = 10_000
    c.train.sample_every = 10_000
    c.train.checkpoint_every = 5_000
    c.optim = {'disc': optimizer(lr=3e-4, b1=0.5), 'gen': optimizer(lr=3e-4, b1=0.5)}
    c.eval.batch_size = 500
    c.expected = {'test/error': 0.1863}
    if arg == 'smoke':
        _gan.semi_supervised_smoke(c)
    return c
