"""DCGAN on CelebA faces, 64x64 centre crops.

Paper: Radford, Metz, Chintala, arXiv:1511.06434 (its faces experiment used scraped faces; CelebA
at 64x64 is the setting of the widely used reference re-implementations). The DCGAN CIFAR-10
recipe (Adam lr 2e-4, b1 0.5, batch 128, 5x5 kernels) with the paper's 64x64 architecture
(G 4x4x1024 -> 512 -> 256 -> 128 -> 3, D 128 -> 256 -> 512 -> 1024) on a 108x108 centre crop of
the 218x178 photos resized to 64x64 (the crop of the common re-implementations).
Command:
    python -m experiments.run --config experiments/configs/dcgan_celeba64.py --workdir runs/celeba
    (celeb_a prepared as array_record in data_dir, see WORKSPACE.md)
Hardware: one GPU; the paper gives no CelebA hardware or time.
Expected: the paper reports samples only, no number; `expected` names that.
"""

from experiments.configs import _gan
from models.core.config import defaults, optimizer


def get_config(arg=None):
    c = defaults()
    c.model = 'gan.dcgan'
    c.data.name = 'celeb_a'
    c.data.eval_split = 'validation'
    c.model_kw = {
        'latent_dim': 100,
        'gen_width': 128,
        'disc_width': 128,
        'kernel': 5,
        'image_size': 64,
        'center_crop': 108,
        'inception_weights': '',
        'score_splits': 10,
    }
    c.train.steps = 50_000  # about 5 epochs of the 162,770 training faces at batch 128
    c.train.batch_size = 128
    c.train.log_every = 100
    c.train.eval_every = 10_000
    c.train.sample_every = 2_000
    c.train.checkpoint_every = 5_000
    c.optim = {'disc': optimizer(lr=2e-4, b1=0.5), 'gen': optimizer(lr=2e-4, b1=0.5)}
    c.eval.batch_size = 500
    c.expected = {'source': 'qualitative samples only in the paper (no number)'}
    if arg == 'smoke':
        # The DCGAN image smoke program (one compilation); the crop is tested in
        # tests/gan/test_families.py.
        _gan.dcgan_image_smoke(c)
    return c
