"""Tiny image models and their compiled decode scans, shared by the sampling and decoding tests:
one compile per model and generator for the whole session (the 2-core CI spends most of these
tests' time compiling the scans)."""

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from models.autoregressive import gated_pixelcnn, pixelcnn, pixelcnnpp
from models.autoregressive.decoding import draw
from models.data import image_spec
from tests.perturb import perturbed

NUM = 6  # images per decode


def labelled(spec, classes):
    return spec.__class__(**{**spec.__dict__, 'num_classes': classes})


SPEC = image_spec((4, 5, 3), 5)
PP_SPEC = image_spec((4, 8, 3), 5)
MODELS = {
    # Kernel 5 on a 4x5 image: windows that overhang every border.
    'pixelcnn': lambda: pixelcnn.model(SPEC, hidden=6, num_blocks=2, out_hidden=12, first_kernel=5),
    # Vertical stack per row, horizontal per sub-pixel, class embeddings in both.
    'gated_conditional': lambda: gated_pixelcnn.model(
        labelled(SPEC, 3),
        features=6,
        num_layers=3,
        kernel_size=3,
        out_hidden=12,
        class_conditional=True,
    ),
    # Three scales on 4x8 (coarsest 1x2): u per row and ul per pixel on every grid, strided
    # and transposed layers between them. Breaking the coarse-grid positions or the commit of
    # finished pixels changes 130-200 of the 576 sub-pixels.
    'pixelcnnpp': lambda: pixelcnnpp.model(
        PP_SPEC, filters=6, num_resnet=1, num_mix=2, dropout=0.0, num_scales=3
    ),
}


class Case(NamedTuple):
    model: Any  # ImageAutoregressive
    params: Any
    batch: dict  # NUM random images and the labels the sampler uses (arange % 3)


@functools.cache
def case(name: str) -> Case:
    m = MODELS[name]()
    shape = m.family.pieces.event_shape
    batch = {
        'image': jax.random.randint(jax.random.PRNGKey(0), (NUM, *shape), 0, 5),
        'label': jnp.arange(NUM) % 3,
    }
    params = jax.jit(m.family.init)(jax.random.PRNGKey(1), batch)
    if name != 'pixelcnnpp':
        # PixelCNN++'s data-dependent init leaves no weight at zero, and perturbing its gains
        # drives every draw to the end levels, which would hide a wrong sampler.
        params = perturbed(params, 0.5)
    return Case(m, params, batch)


def recording(forced, force):
    """A `choose` that returns the data (`force`) or a draw, and records the log-probs it saw.

    carry = (key, seen [num, D, K]); forced: [num, D] levels in generation order. One choose for
    teacher forcing and sampling, so each scan is compiled once for both."""

    def choose(carry, log_probs, index):
        key, seen = carry
        drawn, key = draw(key, log_probs, index)
        value = jnp.where(force, jax.lax.dynamic_index_in_dim(forced, index, 1, False), drawn)
        seen = jax.lax.dynamic_update_index_in_dim(seen, log_probs, index, 1)
        return value, (key, seen)

    return choose


@functools.cache
def decoder(name: str, generator: str):
    """jit((params, forced [NUM, D], force, key) -> (x, seen [NUM, D, K])) of the model's cached
    (the pieces' own) or naive decode scan, conditioned on the case's labels."""
    m, _, batch = case(name)
    pieces = m.family.pieces
    decode = pieces.decode if generator == 'cached' else m.decode_naive
    num_dims = len(pieces.order)

    @jax.jit
    def run(params, forced, force, key):
        seen = jnp.zeros((NUM, num_dims, pieces.num_levels), jnp.float32)
        x, (_, seen) = decode(
            params, recording(forced, force), (key, seen), NUM, {'label': batch['label']}
        )
        return x, seen

    return run
