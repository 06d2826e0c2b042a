"""p(x | z) of the VAEs: what a decoder's output means for a dataset, and what data it scores.

kinds:
  bernoulli          binary data: datasets with 2 levels, grey levels thresholded at
                     `binarize` (an int level), or dynamically binarised (`binarize='dynamic'`:
                     x ~ Bernoulli(level / (K - 1)) drawn afresh every step, as the IAF and IWAE
                     papers train on MNIST; a test batch gets the eval loop's fixed key).
  logistic           discretised logistic per sub-pixel over the dataset's K levels.
  logistic_mixture   PixelCNN++'s discretised logistic mixture with channel coupling.
  gaussian           continuous data: a Gaussian whose per-dimension scale is a parameter
                     (probabilistic PCA when the networks are linear).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.autoregressive.logistic_mixture import num_outputs, to_unit
from models.vae import distributions as D

KINDS = ('bernoulli', 'logistic', 'logistic_mixture', 'gaussian')


class Likelihood:
    def __init__(self, kind: str, data_spec, binarize=None, num_mix: int = 5, name: str = 'vae'):
        if kind not in KINDS:
            raise ValueError(f'{name}: likelihood {kind!r} is not one of {KINDS}')
        levels = data_spec.num_levels
        shape = tuple(data_spec.shape)
        channels = shape[-1] if len(shape) == 3 else 1
        if kind == 'gaussian' and levels is not None:
            raise ValueError(
                f'{name}: a Gaussian likelihood is a density of continuous data; '
                f'{data_spec.name!r} has {levels} discrete levels (use logistic or bernoulli)'
            )
        if kind != 'gaussian' and levels is None:
            raise ValueError(
                f'{name}: {kind} models discrete data; {data_spec.name!r} is continuous'
            )
        if kind == 'bernoulli':
            if binarize is None and levels != 2:
                raise ValueError(
                    f'{name}: {data_spec.name!r} has {levels} levels: set model_kw.binarize to '
                    f"'dynamic' or a threshold level for a Bernoulli likelihood"
                )
            if isinstance(binarize, int) and not 0 < binarize < levels:
                raise ValueError(f'{name}: binarize must be in [1, {levels - 1}], got {binarize}')
            if binarize not in (None, 'dynamic') and not isinstance(binarize, int):
                raise ValueError(f"{name}: binarize must be None, 'dynamic' or a level")
        elif binarize is not None:
            raise ValueError(f'{name}: binarize applies to the bernoulli likelihood only')
        if kind == 'logistic_mixture' and len(shape) != 3:
            raise ValueError(f'{name}: logistic_mixture needs [H, W, C] images, got {shape}')
        self.kind, self.spec, self.binarize = kind, data_spec, binarize
        self.shape, self.channels, self.num_levels, self.num_mix = shape, channels, levels, num_mix
        self.num_dims = int(np.prod(shape))

    @property
    def out_shape(self) -> tuple[int, ...]:
        """The decoder's output per example."""
        if self.kind == 'logistic_mixture':
            return (*self.shape[:-1], num_outputs(self.channels, self.num_mix))
        per = {'bernoulli': 1, 'logistic': 2, 'gaussian': 1}[self.kind]
        return (*self.shape, per) if per > 1 else self.shape

    def targets(self, batch, rng) -> jax.Array:
        """What the likelihood scores: 0/1 floats, integer levels, or continuous values."""
        x = batch[self.spec.key]
        if self.kind != 'bernoulli':
            return x
        if self.binarize == 'dynamic':
            p = x.astype(jnp.float32) / (self.num_levels - 1)
            return (jax.random.uniform(rng, x.shape) < p).astype(jnp.float32)
        threshold = 1 if self.binarize is None else self.binarize
        return (x >= threshold).astype(jnp.float32)

    def network_input(self, targets: jax.Array) -> jax.Array:
        """Targets as floats of unit scale, for an encoder."""
        if self.kind == 'bernoulli':
            return targets * 2.0 - 1.0
        if self.kind == 'gaussian':
            return targets.astype(jnp.float32)
        return to_unit(targets, self.num_levels)

    def distribution(self, out: jax.Array, log_scale: jax.Array | None = None):
        """Decoder output [B, *out_shape] -> p(x | z)."""
        if self.kind == 'bernoulli':
            return D.Bernoulli(out)
        if self.kind == 'logistic':
            return D.DiscretizedLogistic(out[..., 0], out[..., 1], self.num_levels)
        if self.kind == 'logistic_mixture':
            return D.DiscretizedLogisticMixture(out, self.channels, self.num_levels, self.num_mix)
        return D.DiagonalGaussian(out, jnp.broadcast_to(log_scale, out.shape))

    def log_prob(self, dist, targets) -> jax.Array:
        """[B] log p(x | z) in nats."""
        return D.sum_except_batch(dist.log_prob(targets))

    def to_data(self, value: jax.Array) -> jax.Array:
        """A draw of p(x | z) in the dataset's space (binary draws shown at the top level)."""
        if self.kind == 'bernoulli':
            return (value * (self.num_levels - 1)).astype(jnp.int32)
        return value
