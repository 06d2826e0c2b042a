"""Adversarial variational Bayes on dynamically binarised MNIST, 8 latent dimensions, beside the
diagonal-Gaussian VAE of the same latent size.

Paper: Mescheder, Nowozin & Geiger 2017, "Adversarial Variational Bayes: Unifying Variational
Autoencoders and Generative Adversarial Networks", arXiv:1701.04722. Recipe of the official code
(LMescheder/AdversarialVariationalBayes, the avb_mnist_8 run): latent 8, noise 32 injected at
every encoder layer, dynamic binarisation, Adam with beta1 0.5, learning rates 5e-5 (encoder and
decoder) and 1e-4 (adversary), batch 128, 2.5 M steps, both players updated every step.
Differs: the paper's encoder, decoder and adversary are convolutional (5x5 convs of 64-512
channels; the adversary four 3-layer MLPs of 1,024 units with an 8,192-dimensional inner
product); here they are MLPs (models/vae/avb.py), the adversary of the same form with 512 units
and a 256-dimensional inner product. The paper estimates log p(x) by annealed importance
sampling; here the importance-weighted bound under a Gaussian fitted to the implicit posterior.
Command:
    python -m experiments.run --config experiments/configs/avb_binarized_mnist.py \\
        --workdir runs/avb_mnist --config.data.data_dir=/data/tfds
Hardware: one GPU (not stated in the paper).
Data: `tfds build mnist --data_dir=DIR --file_format=array_record`; the smoke variant runs a tiny
model on the bundled 8x8 digits.
Expected: no number here. The paper's MNIST table could not be read and verified in this
session (../shared/PAPERS.md has none); compare the run with `vae_binarized_mnist.py`'s VAE of
the same latent size (`--config.model_kw.latent_dim=8` there), as the paper does.
"""

from experiments.configs import _vae
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'vae.avb'
    c.model_kw = {
        'latent_dim': 8,
        'noise_dim': 32,
        'encoder_hidden': (512, 512),
        'decoder_hidden': (512, 512),
        'adversary_hidden': (512, 512),
        'adversary_inner': 256,
        'likelihood': 'bernoulli',
        'binarize': 'dynamic',
    }
    c.data.name = 'mnist'
    c.train.steps = 2_500_000
    c.train.batch_size = 128
    c.train.log_every = 1000
    c.train.eval_every = 100_000
    c.train.sample_every = 100_000
    c.train.checkpoint_every = 10_000
    c.optim.disc = optimizer(lr=1e-4, b1=0.5)
    c.optim.model = optimizer(lr=5e-5, b1=0.5)
    c.eval.batch_size = 100
    c.eval.model_kw = {'iw_samples': 1000, 'iw_chunk': 100, 'fit_samples': 256}
    c.expected = {'source': 'none verified: compare with vae_binarized_mnist at latent_dim 8'}
    if arg == 'smoke':
        tiny = {
            **c.model_kw,
            'latent_dim': 4,
            'noise_dim': 4,
            'encoder_hidden': (16,),
            'decoder_hidden': (16,),
            'adversary_hidden': (16,),
            'adversary_inner': 8,
            'fit_samples': 4,
        }
        _vae.digits_smoke(c, tiny)
    return c
