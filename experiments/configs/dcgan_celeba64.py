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

from experiments.configs import dcgan_cifar10


def get_config(arg=None):
    c = dcgan_cifar10.get_config()
    c.data.name = 'celeb_a'
    c.model_kw.update({'image_size': 64, 'center_crop': 108})
    c.train.steps = 50_000  # about 5 epochs of the 162,770 training faces at batch 128
    c.data.eval_split = 'validation'
    c.expected = {'source': 'qualitative samples only in the paper (no number)'}
    if arg == 'smoke':
        # The DCGAN smoke program (one compilation); the crop is tested in test_gan_families.
        c = dcgan_cifar10.get_config('smoke')
    return c
