"""InfoGAN on MNIST: 62 noise dimensions, a 10-way categorical and two continuous codes.

Paper: Chen et al., "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets", arXiv:1606.03657. From the paper and the released code
(openai/InfoGAN): Cat(10) + 2 Uniform(-1, 1) codes, 62 noise dims, lambda 1, D lr 2e-4, G lr
1e-3, Adam b1 0.5, batch 128; G: FC 1024 -> FC 7x7x128 -> deconv 64 -> deconv 1, batch norm;
D: conv 64 -> conv 128 (batch norm) -> Q head FC 128. Difference: D has no FC 1024 layer before
its outputs. Training length (50 epochs) is our choice.
Command:
    python -m experiments.run --config experiments/configs/infogan_mnist.py --workdir runs/infogan
Hardware: one GPU, or a CPU host in about an hour (not stated in the paper).
Expected: test/code_accuracy 0.95 (the paper: the categorical code classifies MNIST with about
5% error).
"""

from experiments.configs import _gan
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'gan.infogan'
    c.data.name = 'mnist'
    c.model_kw = {'noise_dim': 62, 'gen_width': 64, 'gen_hidden': 1024, 'disc_width': 64}
    c.train.steps = 23_500  # 50 epochs of 60,000 at batch 128
    c.train.batch_size = 128
    c.train.log_every = 100
    c.train.eval_every = 5_000
    c.train.sample_every = 5_000
    c.train.checkpoint_every = 5_000
    c.optim = {'disc': optimizer(lr=2e-4, b1=0.5), 'gen': optimizer(lr=1e-3, b1=0.5)}
    c.eval.batch_size = 500
    c.expected = {'test/code_accuracy': 0.95}
    if arg == 'smoke':
        _gan.infogan_digits_smoke(c)  # the same program as infogan_digits' smoke variant
    return c
