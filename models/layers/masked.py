"""Autoregressive connectivity for dense layers by unit degrees (MADE, Germain et al. 2015,
arXiv:1502.03509), shared by MADE and the inverse autoregressive flows of the VAEs.

Every unit carries a degree. Inputs get their rank in the ordering (1..D). A hidden unit of degree
k may read units of degree <= k; an output of degree d may read only units of degree < d, so
output d is a function of the inputs earlier than d in the ordering, whatever the depth. (The
convolutional masks of PixelCNN are the spatial case: `models.autoregressive.layers.kernel_mask`.)
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def input_degrees(order: np.ndarray) -> np.ndarray:
    """The degree (1-based rank in `order`) of each input dimension."""
    degrees = np.empty(len(order), np.int64)
    degrees[np.asarray(order)] = np.arange(1, len(order) + 1)
    return degrees


def random_hidden_degrees(
    rs: np.random.RandomState, below: np.ndarray, widths: Sequence[int], num_dims: int
) -> list[np.ndarray]:
    """MADE's draw: each hidden layer's degrees uniform in [min degree below, D - 1]."""
    degrees = []
    for width in widths:
        low = min(int(below.min()), num_dims - 1)
        below = rs.randint(low, num_dims, size=width)
        degrees.append(below)
    return degrees


def cyclic_hidden_degrees(widths: Sequence[int], num_dims: int) -> list[np.ndarray]:
    """Deterministic degrees 1, 2, ..., D - 1, 1, 2, ...: every degree equally represented, so no
    output loses its inputs by an unlucky draw (what a flow inside a VAE wants)."""
    span = max(num_dims - 1, 1)
    return [np.arange(width) % span + 1 for width in widths]


def connectivity_masks(
    in_degrees: np.ndarray, hidden_degrees: Sequence[np.ndarray], out_degrees: np.ndarray
) -> list[np.ndarray]:
    """[fan_in, fan_out] 0/1 masks of every layer: hidden units keep degrees <= their own, the
    outputs strictly smaller ones."""
    masks, below = [], np.asarray(in_degrees)
    for degrees in hidden_degrees:
        masks.append((degrees[None, :] >= below[:, None]).astype(np.float32))
        below = degrees
    masks.append((np.asarray(out_degrees)[None, :] > below[:, None]).astype(np.float32))
    return masks


class MaskedDense(nn.Module):
    """A dense layer whose kernel is multiplied by a fixed 0/1 mask [fan_in, features]."""

    mask: np.ndarray
    use_bias: bool = True
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        fan_in, features = self.mask.shape
        if x.shape[-1] != fan_in:
            raise ValueError(f'MaskedDense: input width {x.shape[-1]}, mask expects {fan_in}')
        kernel = self.param('kernel', self.kernel_init, (fan_in, features))
        y = x @ (kernel * jnp.asarray(self.mask))
        if self.use_bias:
            y = y + self.param('bias', nn.initializers.zeros, (features,))
        return y
