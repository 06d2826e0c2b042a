"""What the flow configs share: their smoke variants (tiny models on bundled data, identical across
configs of one family so the persistent compilation cache serves the second and third)."""

from models.core.config import smoke

REALNVP_SMOKE_KW = {'scales': 2, 'features': 4, 'blocks': 1, 'norm': 'batchnorm'}
FLOWPP_SMOKE_KW = {
    'stages': (('checkerboard', 1), ('squeeze',), ('channel', 1)),
    'features': 4,
    'blocks': 1,
    'heads': 2,
    'components': 2,
    'dequant_steps': 1,
    'dequant_features': 4,
    'dequant_blocks': 1,
    # Attention is covered by flowpp_digits' smoke and the model tests; without it here the
    # smoke compiles in about half the time.
    'attention': False,
}


def image_smoke(c, model_kw, steps: int = 4):
    """The paper config's recipe, on the bundled 32x32x3 patches with a tiny model."""
    c.model_kw = dict(model_kw)
    c.data.name = 'image_patches32'
    c.data.data_dir = ''
    c.train.batch_size = 16
    c.eval.batch_size = 16
    c.eval.max_batches = 2
    c.eval.num_samples = 8
    c.optim.model.warmup_steps = 0
    return smoke(c, steps=steps)
