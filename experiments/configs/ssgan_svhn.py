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

from experiments.configs import ssgan_cifar10


def get_config(arg=None):
    c = ssgan_cifar10.get_config()
    c.data.name = 'svhn_cropped'
    c.model_kw.labels_per_class = 100
    c.train.steps = 300_000
    c.expected = {'test/error': 0.0811}
    if arg == 'smoke':
        c = ssgan_cifar10.get_config('smoke')  # the same program as the other smoke variants
    return c
