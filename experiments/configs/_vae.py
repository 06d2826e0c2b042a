"""What the VAE configs share: their smoke variants only (a few steps of a tiny model on bundled
data). No paper recipe lives here; each config writes its own out in full."""

from models.core.config import smoke

# The one tiny hierarchy every Bit-Swap smoke variant trains: identical programs compile once per
# test session (the persistent compilation cache), whichever config asks.
BITSWAP_TINY = {
    'free_bits': 0.6931471805599453,  # 1 bit, the paper's
    'num_layers': 2,
    'zchannels': 1,
    'width': 8,
    'blocks': 1,
    'processing': 0,
    'dropout_rate': 0.0,
}


def digits_smoke(c, model_kw: dict):
    """A config on the bundled 8x8 digits with a tiny model, a few importance samples, one eval
    batch."""
    c.model_kw = dict(model_kw)
    c.data.name = 'digits8x8'
    c.train.batch_size = 32
    c.eval.batch_size = 64
    c.eval.max_batches = 1
    c.eval.num_samples = 8
    c.eval.model_kw = {'iw_samples': 4, 'iw_chunk': 2}
    return smoke(c, steps=4)


def patches_smoke(c, model_kw: dict):
    """A CIFAR-10 / ImageNet 32 config on the bundled 32x32x3 patches (their shape and 256
    levels) with a tiny model, one eval batch, a few importance samples; keeps the config's
    optimizer."""
    c.model_kw = dict(model_kw)
    c.data.name = 'image_patches32'
    c.train.batch_size = 8
    c.eval.batch_size = 8
    c.eval.max_batches = 1
    c.eval.num_samples = 4
    c.eval.model_kw = {'iw_samples': 2, 'iw_chunk': 1}
    return smoke(c, steps=3)
