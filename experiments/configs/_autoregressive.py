"""What the autoregressive configs share: their smoke variants only (a few steps of a tiny model on
bundled data). No paper recipe lives here: each config writes its own out in full, so changing one
can never change another. A smoke variant keeps its config's optimizer and `expected`."""

from models.core.config import smoke


def patches_smoke(c, model_kw: dict):
    """A CIFAR-10 config on the bundled 32x32x3 patches (CIFAR-10's shape and 256 levels), one
    eval batch."""
    c.model_kw = dict(model_kw)
    c.data.name = 'image_patches32'
    c.train.batch_size = 8
    c.eval.batch_size = 8
    c.eval.max_batches = 1
    c.eval.num_samples = 8
    return smoke(c, steps=3)


def digits_smoke(c, model_kw: dict):
    """A config on the bundled 8x8 digits (the binary models threshold them: `binarize_at`), with
    the digits configs' batch sizes."""
    c.model_kw = dict(model_kw)
    c.data.name = 'digits8x8'
    c.train.batch_size = 64
    c.eval.batch_size = 360
    c.eval.num_samples = 8
    return smoke(c, steps=4)
