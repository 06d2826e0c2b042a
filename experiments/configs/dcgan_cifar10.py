"""DCGAN on CIFAR-10 (32x32).

Paper: Radford, Metz, Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", arXiv:1511.06434. From the paper: Adam lr 2e-4 and b1 0.5,
batch 128, weights from N(0, 0.02) (here Flax's defaults), batch norm in G and D except G's output
and D's input layers, ReLU / tanh in G, leaky ReLU 0.2 in D, 5x5 kernels, 100-d latent (the paper
draws it uniformly; here N(0, 1)). Widths as in its 64x64 LSUN model, one layer fewer for 32x32:
G 4x4x512 -> 256 -> 128 -> 3, D 128 -> 256 -> 512. The number of steps is not in the paper.
Command:
    python -m experiments.run --config experiments/configs/dcgan_cifar10.py --workdir runs/dcgan \\
        --config.model_kw.inception_weights=/path/to/inception_v3_fid.npz
    (CIFAR-10 prepared as array_record in data_dir, see WORKSPACE.md; without inception_weights
    only the discriminator's test probabilities are reported.)
Hardware: one GPU; the paper does not state its hardware or training time for CIFAR-10.
Expected: the paper reports no sample score for CIFAR-10 (it evaluates D's features as a
classifier, 82.8% accuracy); real CIFAR-10 scores Inception score 11.24 with the Improved-GAN
protocol (10 splits of 50,000), kept in `expected` as the reference point.
"""

from experiments.configs import _gan
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'gan.dcgan'
    c.data.name = 'cifar10'
    c.model_kw = {
        'latent_dim': 100,
        'gen_width': 128,
        'disc_width': 128,
        'kernel': 5,
        'inception_weights': '',
        'score_splits': 10,
    }
    c.train.steps = 100_000
    c.train.batch_size = 128
    c.train.log_every = 100
    c.train.eval_every = 10_000
    c.train.sample_every = 2_000
    c.train.checkpoint_every = 5_000
    c.optim = {'disc': optimizer(lr=2e-4, b1=0.5), 'gen': optimizer(lr=2e-4, b1=0.5)}
    c.eval.batch_size = 500
    c.expected = {
        'test/inception_is_real': 11.24,
        'source': 'real-data Inception score (Salimans et al. 2016); DCGAN reports no CIFAR score',
    }
    if arg == 'smoke':
        _gan.dcgan_image_smoke(c)
    return c
