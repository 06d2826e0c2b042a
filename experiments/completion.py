"""Completing images with an autoregressive model: the missing sub-pixels are drawn from the model's
exact conditionals in generation order, through the family's decode scan (the cached one where
the family has it), and the observed ones are passed through unchanged.

The decode scan asks a `choose(carry, log_probs, index)` for every variable in generation order;
completion's choose returns the observed symbol where the mask says observed and a draw from the
log-probs otherwise, so every missing variable is drawn given all earlier ones, observed or drawn:
an exact sample of p(missing | observed) when every observed variable comes before every missing
one (a lower half in raster order), and otherwise a sample of the model's conditionals given the
observed variables that precede each missing one (later observed pixels cannot be conditioned on
by a one-pass autoregressive sampler).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.autoregressive.decoding import draw
from models.core.pieces import Autoregressive

MASKS = ('lower_half', 'box', 'file')


def missing_mask(kind: str, shape: tuple[int, ...], box=None, path: str | None = None):
    """[*shape] bool, True where a sub-pixel is missing (to be completed)."""
    height, width = shape[0], shape[1]
    missing = np.zeros(shape, bool)
    if kind == 'lower_half':
        missing[height // 2 :] = True
    elif kind == 'box':
        if box is None or len(box) != 4:
            raise ValueError('--mask box needs --box TOP,LEFT,HEIGHT,WIDTH')
        top, left, h, w = box
        if not (0 <= top < height and 0 <= left < width and h > 0 and w > 0):
            raise ValueError(f'--box {box} lies outside the {height}x{width} image')
        missing[top : top + h, left : left + w] = True
    elif kind == 'file':
        given = np.load(path).astype(bool)
        if given.shape == shape[:2] and len(shape) == 3:
            given = np.broadcast_to(given[..., None], shape)
        if given.shape != shape:
            raise ValueError(f'mask {path} has shape {given.shape}; the images are {shape}')
        missing = given.copy()
    else:
        raise ValueError(f'--mask {kind!r}; valid: {list(MASKS)}')
    if not missing.any():
        raise ValueError('the mask leaves nothing to complete')
    return missing


class Symbols:
    """The data's levels as the model's symbols and back: the same, or a binary model's bits
    (MADE/NADE threshold the grey levels at `binarize_at`; completions show 0 or the top level)."""

    def __init__(self, pieces, spec, binarize_at):
        self.levels = spec.num_levels
        self.threshold = None
        if pieces.num_levels != spec.num_levels:
            if pieces.num_levels != 2 or binarize_at is None:
                raise ValueError(
                    f'the model codes {pieces.num_levels} levels, the data has {spec.num_levels}'
                )
            self.threshold = int(binarize_at)

    def to_model(self, x):
        return x if self.threshold is None else (x >= self.threshold).astype(np.int32)

    def to_data(self, s):
        return s if self.threshold is None else s * (self.levels - 1)


def completer(pieces: Autoregressive):
    """(variables, rng, symbols [N, *event], missing [N, *event], labels [N] or None) ->
    [N, *event] int32: missing variables drawn, observed ones returned as given."""
    order = jnp.asarray(np.asarray(pieces.order), jnp.int32)

    @jax.jit
    def complete(variables, rng, symbols, missing, labels):
        num = symbols.shape[0]
        flat_x = symbols.reshape(num, -1).astype(jnp.int32)
        flat_missing = missing.reshape(num, -1)

        def choose(key, log_probs, index):
            variable = order[index]
            drawn, key = draw(key, log_probs, index)
            return jnp.where(flat_missing[:, variable], drawn, flat_x[:, variable]), key

        batch = None if labels is None else {'label': labels}
        out, _ = pieces.decode(variables, choose, rng, num, batch)
        return out

    return complete


def completions(complete, variables, rng, x, missing, labels, samples: int):
    """`samples` completions of every image: [N, samples, *event] model symbols."""
    n = x.shape[0]
    rep = np.repeat(x, samples, axis=0)
    rep_missing = np.repeat(np.broadcast_to(missing, x.shape), samples, axis=0)
    rep_labels = None if labels is None else np.repeat(labels, samples, axis=0)
    out = np.asarray(complete(variables, rng, rep, rep_missing, rep_labels))
    return out.reshape(n, samples, *x.shape[1:])


def grid_rows(x, missing, completed, levels: int) -> np.ndarray:
    """RGB uint8 tiles, one row per image: original, masked (missing in red), completions."""

    def rgb(levels_x):
        scaled = np.rint(np.asarray(levels_x, np.float64) * 255.0 / (levels - 1))
        scaled = np.clip(scaled, 0, 255).astype(np.uint8)
        return np.repeat(scaled, 3, axis=-1) if scaled.shape[-1] == 1 else scaled

    original = rgb(x)
    masked = original.copy()
    hole = np.broadcast_to(missing, x.shape).any(axis=-1)
    masked[hole] = (170, 30, 30)
    tiles = [original[:, None], masked[:, None], rgb(completed.reshape(-1, *x.shape[1:]))]
    tiles[2] = tiles[2].reshape(x.shape[0], -1, *original.shape[1:])
    return np.concatenate(tiles, axis=1)
