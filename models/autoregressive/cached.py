"""Cached generation for convolutional autoregressive models (Ramachandran et al. 2017, "Fast
Generation for Convolutional Autoregressive Models", arXiv:1704.06001).

Naive sampling runs the whole network over the whole image once per sub-pixel. Here every layer
keeps a buffer of its own inputs; generating a pixel writes the new input of each layer at that
pixel and computes the layer's output there from the kernel-sized window of the buffer. Everything
the window reads is either already computed or multiplied by a masked (zero) weight, so the result
equals the full pass at that pixel, with one pixel's work per layer. Layers that may only be
computed once a whole row is known (the vertical stack of Gated PixelCNN, the `u` stream of
PixelCNN++) run row by row in `RowCtx`, which costs one pixel's work per pixel on average.

Multi-scale networks (PixelCNN++) have layers whose input or output lives on a coarser grid (a
stride-2 convolution, a transposed one back up). `conv_resolutions` finds every layer's input and
output grid once, from the network's shapes. At fine pixel (i, j) a layer on a grid f times
coarser works at position (i // f, j // f). That position's inputs are final from the first fine
pixel of its block, where its output is computed (the schedule of Ramachandran et al. §3.3); at
the block's other pixels the output is read back from a store (`lax.cond`) and the layer's input
is rewritten with the same values. So there is no per-scale bookkeeping in the networks.

The contexts take the same network function as training (see `layers.py`): x is [B, C] at a
pixel and [B, W, C] on a row instead of [B, H, W, C].
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from models.autoregressive.layers import ConvSpec, InitCtx, kernel


def conv_resolutions(forward, x: jax.Array, labels=None) -> dict[str, tuple]:
    """{layer name: ((in_h, in_w), (out_h, out_w))} for `forward` on images shaped like x."""
    found = {}

    class Recorder(InitCtx):
        def conv(self, name, x, spec):
            out = super().conv(name, x, spec)
            found[name] = (tuple(x.shape[1:3]), tuple(out.shape[1:3]))
            return out

    jax.eval_shape(lambda x: forward(Recorder(jnp.zeros), x, labels), x)
    return found


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a layer keeps its inputs: input (r, c) sits at padded row p = spread * r + top and
    column spread * c + left, and the window of output (y, x) starts at (step * y, step * x).

    This is the full convolution's own padded input (`layers.conv_full`): a strided layer reads
    windows `stride` apart; a transposed one reads consecutive windows of its input dilated by
    the stride (zeros between the stored rows and columns).

    Only the last `ring` padded rows are kept, padded row p in slot p % ring. A causal window
    (rows up to the newest written one) spans kh <= ring rows; with `ring` a multiple of the
    spread the dilation's zero rows keep slots of their own that are never written. A slot
    being overwritten row by row still holds an old row to the right of the current pixel,
    which the causal windows read only through masked (zero) weights. This keeps the buffers
    at 2 rows instead of H + 1: 140 MB per image less for the paper's PixelCNN++ on 32x32."""

    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    spread: int
    step: int
    ring: int
    cols: int

    @classmethod
    def of(cls, spec: ConvSpec, in_hw, out_hw) -> Layout:
        if spec.kh - 1 > spec.top:
            raise ValueError(f'cached generation needs causal rows; {spec} reads rows below')
        spread, step = (spec.stride, 1) if spec.transpose else (1, spec.stride)
        ring = -(-spec.kh // spread) * spread
        cols = max(spread * (in_hw[1] - 1) + spec.left + 1, step * (out_hw[1] - 1) + spec.kw)
        return cls(tuple(in_hw), tuple(out_hw), spread, step, ring, cols)

    def slot(self, row, spec: ConvSpec):
        """The slot of input row `row`."""
        return (self.spread * row + spec.top) % self.ring

    def window_rows(self, y, spec: ConvSpec):
        """The slots of the kh rows that output row y reads."""
        return (self.step * y + jnp.arange(spec.kh)) % self.ring


class _CachedCtx:
    def __init__(self, params: dict, buffers: dict, image_hw: tuple, resolutions: dict | None):
        self.params = params
        self.buffers = dict(buffers)
        self.image_hw = tuple(image_hw)
        self.resolutions = resolutions or {}

    def _layout(self, name: str, spec: ConvSpec) -> Layout:
        in_hw, out_hw = self.resolutions.get(name, (self.image_hw, self.image_hw))
        return Layout.of(spec, in_hw, out_hw)

    def _position(self, index, hw: tuple[int, int], axis: int):
        """The position on a grid of size hw that fine index `index` (along `axis`) falls in."""
        return index // (self.image_hw[axis] // hw[axis])

    def _factor(self, layout: Layout, axis: int) -> int:
        """Fine pixels per output position along `axis`."""
        return self.image_hw[axis] // layout.out_hw[axis]

    def _once_per_block(self, name, layout, new, compute, column, num, cout):
        """compute() where the output position is new; elsewhere its stored value.

        On the fine grid every position is new. On a coarser one a position's output is final
        from the first fine pixel (row) of its block, and is computed only there: at the block's
        later rows the ring may have dropped rows of its window (and skipping the recomputation
        halved PixelCNN++'s sampling time). A block's pixels all lie in one output row, so one
        row is stored. column: x at a pixel, None on a row."""
        if layout.out_hw == self.image_hw:
            return compute()
        key = f'{name}/out'
        if key not in self.buffers:
            self.buffers[key] = jnp.zeros((num, layout.out_hw[1], cout), jnp.float32)
        stored = self.buffers[key]
        if column is None:
            out = jax.lax.cond(new, compute, lambda: stored)
            self.buffers[key] = out
            return out
        size = (num, 1, cout)
        out = jax.lax.cond(
            new, compute, lambda: jax.lax.dynamic_slice(stored, (0, column, 0), size)[:, 0]
        )
        self.buffers[key] = jax.lax.dynamic_update_slice(stored, out[:, None], (0, column, 0))
        return out

    def _buffer(self, name: str, layout: Layout, x: jax.Array) -> jax.Array:
        if name not in self.buffers:
            shape = (x.shape[0], layout.ring, layout.cols, x.shape[-1])
            self.buffers[name] = jnp.zeros(shape, x.dtype)
        return self.buffers[name]

    def embed(self, name: str, labels: jax.Array, num: int, dim: int) -> jax.Array:
        return self.params[name]['table'][labels]

    def dropout(self, x: jax.Array, rate: float) -> jax.Array:
        return x


class PixelCtx(_CachedCtx):
    """The network at fine pixel (i, j): x is [B, C] (at the pixel's position on x's grid)."""

    def __init__(self, params, buffers, image_hw, i, j, resolutions=None):
        super().__init__(params, buffers, image_hw, resolutions)
        self.i, self.j = i, j

    def spatial(self, v: jax.Array) -> jax.Array:
        return v

    def conv(self, name: str, x: jax.Array, spec: ConvSpec) -> jax.Array:
        p = self.params[name]
        w = kernel(p, spec, x.shape[-1])  # [kh, kw, cin, cout]
        if spec.kh == 1 and spec.kw == 1 and spec.stride == 1:
            return x @ w[0, 0] + p['b']
        lay = self._layout(name, spec)
        r, c = self._position(self.i, lay.in_hw, 0), self._position(self.j, lay.in_hw, 1)
        y, x_ = self._position(self.i, lay.out_hw, 0), self._position(self.j, lay.out_hw, 1)
        buf = jax.lax.dynamic_update_slice(
            self._buffer(name, lay, x),
            x[:, None, None, :],
            (0, lay.slot(r, spec), lay.spread * c + spec.left, 0),
        )
        self.buffers[name] = buf

        def compute():
            # The window is exactly what the full convolution reads for output (y, x_): rows
            # and columns of the padded input from (step * y, step * x_) on.
            cols = jax.lax.dynamic_slice(
                buf, (0, 0, lay.step * x_, 0), (buf.shape[0], lay.ring, spec.kw, buf.shape[-1])
            )
            window = jnp.take(cols, lay.window_rows(y, spec), axis=1)
            return jnp.einsum('bhwc,hwcd->bd', window, w) + p['b']

        new = (self.i % self._factor(lay, 0) == 0) & (self.j % self._factor(lay, 1) == 0)
        return self._once_per_block(name, lay, new, compute, x_, x.shape[0], w.shape[-1])


class RowCtx(_CachedCtx):
    """The network on fine row i: x is [B, W', C] (the row i falls in, on x's grid)."""

    def __init__(self, params, buffers, image_hw, i, resolutions=None):
        super().__init__(params, buffers, image_hw, resolutions)
        self.i = i

    def spatial(self, v: jax.Array) -> jax.Array:
        return v[:, None, :]

    def conv(self, name: str, x: jax.Array, spec: ConvSpec) -> jax.Array:
        p = self.params[name]
        w = kernel(p, spec, x.shape[-1])
        if spec.kh == 1 and spec.kw == 1 and spec.stride == 1:
            return x @ w[0, 0] + p['b']
        lay = self._layout(name, spec)
        r, y = self._position(self.i, lay.in_hw, 0), self._position(self.i, lay.out_hw, 0)
        if lay.spread > 1:  # a transposed layer stores its row dilated: columns `spread` apart
            dilated = jnp.zeros((x.shape[0], lay.spread * x.shape[1], x.shape[2]), x.dtype)
            x = dilated.at[:, :: lay.spread].set(x)
        buf = jax.lax.dynamic_update_slice(
            self._buffer(name, lay, x), x[:, None], (0, lay.slot(r, spec), spec.left, 0)
        )
        self.buffers[name] = buf

        def compute():
            rows = jnp.take(buf, lay.window_rows(y, spec), axis=1)
            out = jax.lax.conv_general_dilated(
                rows, w, (1, lay.step), 'VALID', dimension_numbers=('NHWC', 'HWIO', 'NHWC')
            )
            return out[:, 0, : lay.out_hw[1]] + p['b']

        new = self.i % self._factor(lay, 0) == 0
        return self._once_per_block(name, lay, new, compute, None, x.shape[0], w.shape[-1])


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

    def commit(self, params, cache, labels, i, j, x_pixel):
        """The buffers of layers that read the image hold the pixel as it was before its last
        channel was drawn; later pixels must see it whole."""
        return self.pixel(params, cache, labels, i, j, x_pixel)[0]
