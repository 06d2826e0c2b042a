"""Improved GAN on CIFAR-10, the Inception-score model: every technique on.

Paper: Salimans et al., "Improved Techniques for Training GANs", arXiv:1606.03498, Table 3:
Inception score 8.09 +- 0.07 (real data 11.24 +- 0.12), 50,000 samples in 10 splits. Ablations:
-VBN+BN 7.54, -L+HA 6.86, -LS 6.83, -L 4.36, -MBF 3.87 (L: labels, i.e. the K+1 discriminator
trained with the labels; HA: historical averaging; LS: label smoothing; MBF: minibatch features).
Our reading of the paper and code (train_cifar_minibatch_discrimination.py): the K+1
discriminator of ssgan_cifar10.py trained with all labels, minibatch discrimination (100 kernels
of 5 dimensions), a generator with virtual batch norm minimising -log D(G(z)). Differences as in
ssgan_cifar10.py (no weight norm). The number of steps is our choice.
The Inception score needs the Inception-v3 weights as a local file (never downloaded):
Command:
    python -m experiments.run --config experiments/configs/improved_gan_cifar10.py \\
        --workdir runs/improved_gan \\
        --config.model_kw.inception_weights=/path/to/inception_v3.npz \\
        --config.data.eval_split=train
    (eval_split=train scores 50,000 samples against the 50,000 training images, the paper's
    sample count; the default test split gives 10,000.)
Hardware: one GPU (not stated in the paper).
Expected: test/inception_is 8.09, test/inception_is_real 11.24 (the real-data number comes from
the 2015 Inception graph; the Flax port's weights must match it, see inception_v3.py).
"""

from experiments.configs import _gan
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'gan.semi_supervised'
    c.data.name = 'cifar10'
    # Every training label is used: no labelled subset (config.data.aux), the loader's batch is
    # also the labelled batch.
    c.model_kw = {
        'latent_dim': 100,
        'gen_width': 128,
        'gen_norm': 'virtual',
        'disc_width': 96,
        'disc_extra_convs': 2,
        'disc_downsamplings': 2,
        'disc_global_pool': True,
        'disc_dropout': 0.5,
        'disc_input_dropout': 0.2,
        'minibatch_kernels': 100,
        'minibatch_dim': 5,
        'gen_loss': 'non_saturating',
        'feature_net': 'auto',
        'inception_weights': '',
        'score_splits': 10,
    }
    c.train.steps = 300_000
    c.train.batch_size = 100
    c.train.log_every = 100
    c.train.eval_every = 10_000
    c.train.sample_every = 10_000
    c.train.checkpoint_every = 5_000
    c.optim = {'disc': optimizer(lr=3e-4, b1=0.5), 'gen': optimizer(lr=3e-4, b1=0.5)}
    c.eval.batch_size = 500
    c.expected = {'test/inception_is': 8.09, 'test/inception_is_real': 11.24}
    if arg == 'smoke':
        _gan.semi_supervised_smoke(c, per_class=0)
        c.model_kw.update(
            {
                'gen_norm': 'virtual',
                'minibatch_kernels': 4,
                'minibatch_dim': 5,
                'gen_loss': 'non_saturating',
                'feature_net': 'auto',
                'inception_weights': '',
                'score_splits': 1,
            }
        )
    return c
