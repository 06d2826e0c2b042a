"""What the GAN configs share: their smoke variants only (tiny networks on bundled data, identical
across the configs of one family so the persistent compilation cache serves the second and later
ones). No paper recipe lives here: each config writes its own out in full, so changing one can
never change another. A smoke variant keeps its config's optimizers and `expected`."""

from models.core.config import aux_source, smoke


def _bundled(c, dataset: str, batch_size: int, eval_batch: int, eval_batches: int, samples: int):
    c.data.name = dataset
    c.data.data_dir = ''
    c.data.train_split, c.data.eval_split = 'train', 'test'
    c.data.aux = {}
    c.train.batch_size = batch_size
    c.eval.batch_size = eval_batch
    c.eval.max_batches = eval_batches
    c.eval.num_samples = samples
    return smoke(c, steps=4)


def dcgan_image_smoke(c):
    """A DCGAN image recipe on the bundled 32x32x3 patches (CIFAR-10's shape), tiny networks."""
    c.model_kw = {
        'latent_dim': 8,
        'gen_width': 4,
        'disc_width': 4,
        'kernel': 5,
        'inception_weights': '',
        'score_splits': 1,
    }
    return _bundled(c, 'image_patches32', 16, 64, 1, 16)


SEMI_SUPERVISED_SMOKE_KW = {
    'latent_dim': 8,
    'gen_width': 4,
    'disc_width': 4,
    'disc_extra_convs': 2,
    'disc_downsamplings': 0,
    'disc_global_pool': True,
    'disc_dropout': 0.5,
    'disc_input_dropout': 0.2,
}


def semi_supervised_smoke(c, per_class: int = 2):
    """A K+1 GAN recipe on the labelled digits (the bundled colour patches have no usable labels):
    `per_class` labelled digits per class in batches of 8, or every label with per_class=0."""
    c.model_kw = dict(SEMI_SUPERVISED_SMOKE_KW)
    _bundled(c, 'digits8x8', 16, 64, 1, 16)
    if per_class:
        c.data.aux.labelled = aux_source(
            split='train', batch_size=8, per_class=per_class, subset_seed=0
        )
    return c


def infogan_digits_smoke(c):
    """An InfoGAN recipe on the digits with small networks, scored on the whole test split."""
    c.model_kw = {'noise_dim': 16, 'gen_width': 8, 'gen_hidden': 16, 'disc_width': 8}
    return _bundled(c, 'digits8x8', 64, 360, 0, 64)
