"""Activations and the gated residual branch shared by PixelCNN++, Gated PixelCNN and Flow++.

The branch (PixelCNN++, Salimans et al. 2017; Flow++'s coupling network, Ho et al. 2019):
    h = conv1(concat_elu(x)) [+ a projection of a skip input]
    [a, b] = conv2(dropout(concat_elu(h)))
    branch = a * sigmoid(b)
The caller adds it to x (and may normalise). Convolutions are passed in as functions so that the
same branch runs over Flax modules (flows) and over explicit parameter dicts in any of the
autoregressive models' contexts (training, cached sampling).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Layer = Callable[[jax.Array], jax.Array]


def concat_elu(x: jax.Array) -> jax.Array:
    """ELU of [x, -x] on the channel axis: keeps the information of both signs."""
    return jax.nn.elu(jnp.concatenate([x, -x], axis=-1))


def gated_linear(x: jax.Array) -> jax.Array:
    """a * sigmoid(b) over the two halves of the channels."""
    a, b = jnp.split(x, 2, axis=-1)
    return a * jax.nn.sigmoid(b)


def gated_tanh(x: jax.Array) -> jax.Array:
    """tanh(a) * sigmoid(b) over the two halves of the channels (Gated PixelCNN)."""
    a, b = jnp.split(x, 2, axis=-1)
    return jnp.tanh(a) * jax.nn.sigmoid(b)


def gated_residual_branch(
    x: jax.Array,
    conv1: Layer,
    conv2: Layer,
    drop: Layer,
    skip: jax.Array | None = None,
    project_skip: Layer | None = None,
) -> jax.Array:
    """conv2 (2F outputs) of the dropped-out concat_elu of conv1's output, gated to F."""
    h = conv1(concat_elu(x))
    if skip is not None:
        h = h + project_skip(concat_elu(skip))
    return gated_linear(conv2(drop(concat_elu(h))))
