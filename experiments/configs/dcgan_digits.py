"""DCGAN on the bundled 8x8 digits: the offline check that the GAN machinery makes digits.

Paper: Radford, Metz, Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", arXiv:1511.06434. The recipe is the paper's (Adam lr 2e-4,
b1 0.5, batch norm in both networks, non-saturating generator loss, batch 128 scaled to 64 here)
on networks sized for 8x8 images (one transposed convolution after a 4x4 map).
Command:
    python -m experiments.run --config experiments/configs/dcgan_digits.py \\
        --workdir runs/dcgan_digits
Hardware: 2 CPU cores, a few minutes.
Expected: no paper number (the paper has no 8x8 digits). Measured here (3,000 steps): digits-IS
7.71 and digits-FID 53.9 of the samples against the test digits. Real test digits score
digits-IS 9.53 and digits-FID 18.9 against the training digits; uniform noise 4.2 and 774.
"""

from models.core.config import defaults, optimizer, smoke


def get_config(arg=None):
    c = defaults()
    c.model = 'gan.dcgan'
    c.data.name = 'digits8x8'
    c.model_kw = {'latent_dim': 32, 'gen_width': 64, 'disc_width': 64, 'gen_hidden': 256}
    c.train.steps = 3000
    c.train.batch_size = 64
    c.train.log_every = 100
    c.train.eval_every = 1000
    c.train.sample_every = 1000
    c.train.checkpoint_every = 1000
    # Players in update order: the discriminator first, then the generator against it.
    c.optim = {
        'disc': optimizer(lr=2e-4, b1=0.5),
        'gen': optimizer(lr=2e-4, b1=0.5, ema_decay=0.999),
    }
    c.eval.batch_size = 360
    c.expected = {
        'test/digits_is': 7.71,
        'test/digits_fid': 53.9,
        'test/digits_is_real': 9.53,
        'source': 'measured in this repo, 3,000 steps (no paper number on 8x8 digits)',
    }
    if arg == 'smoke':
        smoke(c, steps=4)
        c.model_kw.update({'gen_width': 8, 'disc_width': 8, 'gen_hidden': 0})
    return c
