"""Binary data for MADE and NADE: binarised datasets as they come (binarized MNIST, 2 levels) or
grey-level images thresholded inside the family (`binarize_at`: level >= binarize_at is 1; the
8x8 digits at 8 of 17 levels).

The model's likelihood is that of the binary image; samples are returned as 0 or the dataset's
top level, so they display (and re-binarise) like the data.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.core.inputs import BadInputError, check_batch


class BinaryData:
    def __init__(self, data_spec, binarize_at: int | None, name: str):
        levels = data_spec.num_levels
        if levels is None:
            raise ValueError(f'{name} models binary data; {data_spec.name!r} is continuous')
        if binarize_at is None and levels != 2:
            raise ValueError(
                f'{name} models binary data; {data_spec.name!r} has {levels} levels: set '
                f'model_kw.binarize_at (e.g. {levels // 2}) to threshold it'
            )
        if binarize_at is not None and not 0 < binarize_at < levels:
            raise ValueError(f'{name}: binarize_at must be in [1, {levels - 1}], got {binarize_at}')
        self.spec = data_spec
        self.threshold = 1 if binarize_at is None else int(binarize_at)
        self.shape = tuple(data_spec.shape)
        self.num_dims = int(np.prod(self.shape))
        self.name = name

    def check(self, batch, where: str) -> None:
        """Host-side check of concrete inputs (inside jit the trainer has checked them)."""
        x = batch.get(self.spec.key) if isinstance(batch, dict) else None
        if x is None:
            raise BadInputError(f'{where}: batch needs the field {self.spec.key!r}')
        if not isinstance(x, jax.core.Tracer):
            check_batch({self.spec.key: np.asarray(x)}, self.spec, where)

    def bits(self, batch) -> jax.Array:
        """[B, *shape] levels -> [B, D] float 0/1 in raster order."""
        x = batch[self.spec.key]
        return (x >= self.threshold).astype(jnp.float32).reshape(x.shape[0], self.num_dims)

    def to_levels(self, bits: jax.Array) -> jax.Array:
        top = self.spec.num_levels - 1
        return (bits.reshape(-1, *self.shape) * top).astype(jnp.int32)


def bernoulli_log_prob(logits: jax.Array, bits: jax.Array) -> jax.Array:
    """[B, D] logits and 0/1 values -> [B] log-likelihood in nats."""
    return jnp.sum(bits * logits - jax.nn.softplus(logits), axis=-1)


def marginal_logits(bits: jax.Array) -> jax.Array:
    """Data-dependent init of the output biases: the (smoothed) marginal of each dimension."""
    p = (bits.sum(axis=0) + 1.0) / (bits.shape[0] + 2.0)
    return jnp.log(p) - jnp.log1p(-p)


def binary_log_probs(logits: jax.Array) -> jax.Array:
    """Bernoulli logits [...] -> [..., 2] normalised log-probs of the values 0 and 1."""
    return jnp.stack([jax.nn.log_sigmoid(-logits), jax.nn.log_sigmoid(logits)], axis=-1)
