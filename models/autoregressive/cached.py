"""Cached generation for convolutional autoregressive models (Ramachandran et al. 2017, "Fast
Generation for Convolutional Autoregressive Models", arXiv:1704.06001).

Naive sampling runs the whole network over the whole image once per sub-pixel. Here every layer
keeps a buffer of its own inputs; generating a pixel writes the new input of each layer at that
pixel and computes the layer's output there from the kernel-sized window of the buffer. Everything
the window reads is either already computed or multiplied by a masked (zero) weight, so the result
equals the full pass at that pixel, with one pixel's work per layer. Layers that may only be
computed once a whole row is known (the vertical stack of Gated PixelCNN) run row by row in
`RowCtx`, which costs one pixel's work per pixel on average.

The contexts take the same network function as training (see `layers.py`): x is [B, C] at a
pixel and [B, W, C] on a row instead of [B, H, W, C].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from models.autoregressive.layers import ConvSpec, kernel


def _buffer_shape(spec: ConvSpec, num: int, height: int, width: int, cin: int) -> tuple:
    return (num, height + spec.top, width + spec.kw - 1, cin)


class _CachedCtx:
    def __init__(self, params: dict, buffers: dict, image_hw: tuple[int, int]):
        self.params = params
        self.buffers = dict(buffers)
        self.image_hw = image_hw

    def _buffer(self, name: str, spec: ConvSpec, x: jax.Array) -> jax.Array:
        if name not in self.buffers:
            shape = _buffer_shape(spec, x.shape[0], *self.image_hw, x.shape[-1])
            self.buffers[name] = jnp.zeros(shape, x.dtype)
        return self.buffers[name]

    def embed(self, name: str, labels: jax.Array, num: int, dim: int) -> jax.Array:
        return self.params[name]['table'][labels]

    def dropout(self, x: jax.Array, rate: float) -> jax.Array:
        return x


class PixelCtx(_CachedCtx):
    """The network at pixel (i, j): x is [B, C]."""

    def __init__(self, params, buffers, image_hw, i, j):
        super().__init__(params, buffers, image_hw)
        self.i, self.j = i, j

    def spatial(self, v: jax.Array) -> jax.Array:
        return v

    def conv(self, name: str, x: jax.Array, spec: ConvSpec) -> jax.Array:
        p = self.params[name]
        w = kernel(p, spec, x.shape[-1])  # [kh, kw, cin, cout]
        if spec.kh == 1 and spec.kw == 1:
            return x @ w[0, 0] + p['b']
        buf = self._buffer(name, spec, x)
        buf = jax.lax.dynamic_update_slice(
            buf, x[:, None, None, :], (0, self.i + spec.top, self.j + spec.left, 0)
        )
        self.buffers[name] = buf
        # Padded row i + top is image row i: the window's rows i .. i + kh - 1 are image rows
        # i - top .. i, exactly what the full convolution reads for output (i, j).
        window = jax.lax.dynamic_slice(
            buf, (0, self.i, self.j, 0), (buf.shape[0], spec.kh, spec.kw, buf.shape[-1])
        )
        return jnp.einsum('bhwc,hwcd->bd', window, w) + p['b']


class RowCtx(_CachedCtx):
    """The network on the whole row i: x is [B, W, C]."""

    def __init__(self, params, buffers, image_hw, i):
        super().__init__(params, buffers, image_hw)
        self.i = i

    def spatial(self, v: jax.Array) -> jax.Array:
        return v[:, None, :]

    def conv(self, name: str, x: jax.Array, spec: ConvSpec) -> jax.Array:
        p = self.params[name]
        w = kernel(p, spec, x.shape[-1])
        if spec.kh == 1 and spec.kw == 1:
            return x @ w[0, 0] + p['b']
        buf = self._buffer(name, spec, x)
        buf = jax.lax.dynamic_update_slice(
            buf, x[:, None, :, :], (0, self.i + spec.top, spec.left, 0)
        )
        self.buffers[name] = buf
        rows = jax.lax.dynamic_slice(
            buf, (0, self.i, 0, 0), (buf.shape[0], spec.kh, buf.shape[2], buf.shape[3])
        )
        out = jax.lax.conv_general_dilated(
            rows, w, (1, 1), 'VALID', dimension_numbers=('NHWC', 'HWIO', 'NHWC')
        )
        return out[:, 0] + p['b']


class PixelwiseNetwork:
    """The cached generator of a network made only of causal convolutions and pointwise ops
    (PixelCNN): no row-level work; each pixel runs the network's column at that pixel."""

    def __init__(self, forward, image_hw: tuple[int, int]):
        self.forward = forward
        self.image_hw = image_hw

    def start(self, params: dict, labels, x_pixel: jax.Array) -> dict:
        """Empty buffers, shaped by one dry run at pixel (0, 0) (its writes are overwritten)."""
        ctx = PixelCtx(params, {}, self.image_hw, 0, 0)
        self.forward(ctx, x_pixel, labels)
        return jax.tree.map(jnp.zeros_like, ctx.buffers)

    def row(self, params, cache, labels, i, prev_row):
        return cache

    def pixel(self, params, cache, labels, i, j, x_pixel):
        ctx = PixelCtx(params, cache, self.image_hw, i, j)
        out = self.forward(ctx, x_pixel, labels)
        return ctx.buffers, out
