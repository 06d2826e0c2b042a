"""Coupling networks: weight-normalised layers with data-dependent init, RealNVP's ResNet, Flow++'s
gated residual blocks with multi-head self-attention, and an MLP for vector data.

Weight normalisation with data-dependent init (models/layers/weight_norm.py) runs inside Flax's
`module.init(rng, batch)`, so initialising a whole flow on a real batch initialises every layer on
the activations it will actually see. The gated residual branch, concat-ELU and dropout are the
ones PixelCNN++ uses (models/layers/gated.py, models/layers/dropout.py).

Every network ends in a zero-initialised layer so that each coupling starts as the identity.
Each takes `(x, cond, deterministic)` and returns `[..., out_features]`.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.layers.dropout import dropout
from models.layers.gated import gated_linear, gated_residual_branch
from models.layers.weight_norm import WNConv, WNDense


def zero_conv(features: int, kernel_size=(3, 3)) -> nn.Conv:
    return nn.Conv(features, kernel_size, kernel_init=nn.initializers.zeros)


def _with_cond(x, cond):
    return x if cond is None else jnp.concatenate([x, cond.astype(x.dtype)], axis=-1)


class ResNet(nn.Module):
    """RealNVP's coupling network (arXiv:1605.08803, section 4.1): residual blocks of two 3x3
    convolutions, weight-normalised, ReLU. (The paper also batch-normalises inside the blocks;
    here data-dependent init plays that role, so the network is a pure function of its input.)"""

    out_features: int
    features: int = 64
    blocks: int = 2

    @nn.compact
    def __call__(self, x, cond=None, deterministic=True):
        h = WNConv(self.features)(_with_cond(x, cond))
        for _ in range(self.blocks):
            r = WNConv(self.features)(nn.relu(h))
            r = WNConv(self.features)(nn.relu(r))
            h = h + r
        return zero_conv(self.out_features)(nn.relu(h))


def _dropout(module: nn.Module, x, rate: float, deterministic: bool):
    rng = None if deterministic or rate <= 0.0 else module.make_rng('dropout')
    return dropout(x, rate, rng)


class GatedConv(nn.Module):
    """Flow++'s gated residual branch: conv, concat-ELU, dropout, conv to 2F, gated linear unit."""

    features: int
    dropout: float

    @nn.compact
    def __call__(self, x, deterministic):
        return gated_residual_branch(
            x,
            WNConv(self.features),
            WNConv(2 * self.features, init_scale=0.1),
            lambda h: _dropout(self, h, self.dropout, deterministic),
        )


class GatedAttention(nn.Module):
    """Flow++'s multi-head self-attention over all positions, gated, as a residual branch."""

    features: int
    heads: int
    dropout: float

    @nn.compact
    def __call__(self, x, deterministic):
        b, h, w, c = x.shape
        n = h * w
        pos = self.param('pos_emb', nn.initializers.normal(0.01), (h, w, c))
        qkv = WNDense(3 * self.features)((x + pos).reshape(b, n, c))  # [B, N, 3F]
        q, k, v = jnp.split(qkv.reshape(b, n, 3, self.heads, -1), 3, axis=2)
        q, k, v = q[:, :, 0], k[:, :, 0], v[:, :, 0]  # [B, N, heads, F/heads]
        logits = jnp.einsum('bqhd,bkhd->bhqk', q, k) / math.sqrt(q.shape[-1])
        attn = _dropout(self, jax.nn.softmax(logits, axis=-1), self.dropout, deterministic)
        out = jnp.einsum('bhqk,bkhd->bqhd', attn, v).reshape(b, n, self.features)
        out = WNDense(2 * self.features, init_scale=0.1)(out)
        return gated_linear(out.reshape(b, h, w, 2 * self.features))


class GatedAttnNet(nn.Module):
    """Flow++'s coupling network (Ho et al. 2019, arXiv:1902.00275, section 3.3): a stack of
    [gated conv residual, layer norm, gated self-attention residual, layer norm] blocks."""

    out_features: int
    features: int = 96
    blocks: int = 10
    heads: int = 4
    dropout: float = 0.2
    attention: bool = True
    zero_out: bool = True  # False for a feature extractor (Flow++'s dequantiser's view of x)

    @nn.compact
    def __call__(self, x, cond=None, deterministic=True):
        h = WNConv(self.features)(_with_cond(x, cond))
        for _ in range(self.blocks):
            h = nn.LayerNorm()(h + GatedConv(self.features, self.dropout)(h, deterministic))
            if self.attention:
                branch = GatedAttention(self.features, self.heads, self.dropout)
                h = nn.LayerNorm()(h + branch(h, deterministic))
        if self.zero_out:
            return zero_conv(self.out_features)(h)
        return WNConv(self.out_features)(h)


class MLP(nn.Module):
    """Coupling network for vector data (the 2-D densities, NICE on flattened images)."""

    out_features: int
    features: int = 64
    layers: int = 2
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, cond=None, deterministic=True):
        h = _with_cond(x, cond)
        for _ in range(self.layers):
            h = nn.relu(WNDense(self.features)(h))
            h = _dropout(self, h, self.dropout, deterministic)
        return nn.Dense(self.out_features, kernel_init=nn.initializers.zeros)(h)
