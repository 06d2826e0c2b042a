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

from experiments.configs import ssgan_cifar10


def get_config(arg=None):
    c = ssgan_cifar10.get_config()
    c.model_kw.update(
        {
            'labels_per_class': 0,  # all labels
            'minibatch_kernels': 100,
            'minibatch_dim': 5,
            'gen_loss': 'non_saturating',
            'gen_norm': 'virtual',
            'feature_net': 'auto',
            'inception_weights': '',
            'score_splits': 10,
        }
    )
    c.train.steps = 300_000
    c.expected = {'test/inception_is': 8.09, 'test/inception_is_real': 11.24}
    if arg == 'smoke':
        ssgan_cifar10.tiny(c)
        c.model_kw.update({'labels_per_class': 0, 'minibatch_kernels': 4, 'score_splits': 1})
    return c
