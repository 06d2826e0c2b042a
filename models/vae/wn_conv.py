"""The weight-normalised convolution of the ResNet VAE as a Flax layer (Salimans & Kingma 2016,
arXiv:1602.07868): plain, strided (down-sampling), transposed (up-sampling) and masked (the IAF's
autoregressive convolutions), all with data-dependent init.

The math is shared: `models.layers.weight_norm` (w = g v / |v|, and g, b from the init batch),
`models.layers.conv_transpose` (the transposed convolution XLA:CPU runs fast) and the PixelCNN
kernel masks of `models.autoregressive.layers` (spatial raster order plus channel groups). A
masked layer is a causal 3x3 convolution cropped to its top two rows (the third is always masked
out), so it costs 2x3 taps, not 3x3.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.autoregressive.layers import ConvSpec, conv_full, kernel_mask
from models.layers.conv_transpose import conv_transpose
from models.layers.weight_norm import data_dependent_init, normalised

DIMENSIONS = ('NHWC', 'HWIO', 'NHWC')


class WNConv(nn.Module):
    """[B, H, W, Cin] -> [B, H', W', features].

    stride:     2 halves H and W ('SAME' padding), or doubles them with `transpose`.
    mask:       None, or 'A' / 'B' for a causal layer over `groups` contiguous channel groups:
                output (i, j, group g) reads inputs before (i, j) in raster order and, at (i, j),
                groups < g ('A') or <= g ('B').
    paired_out: the two halves of the output channels are two heads over the same groups (an
                IAF's shift and log-scale), so the channel mask repeats over each half.
    init_scale: the std of every output unit on the init batch (the openai/iaf code uses 0.1).
    """

    features: int
    kernel_size: tuple[int, int] = (3, 3)
    stride: int = 1
    transpose: bool = False
    mask: str | None = None
    groups: int = 1
    paired_out: bool = False
    init_scale: float = 0.1

    def _spec(self) -> ConvSpec:
        return ConvSpec(2, 3, 1, 1, self.features, self.mask, self.groups, self.paired_out)

    def _conv(self, x: jax.Array, w: jax.Array) -> jax.Array:
        if self.mask is not None:
            return conv_full(x, w, self._spec())
        strides = (self.stride, self.stride)
        if self.transpose:
            return conv_transpose(x, w, strides, 'SAME')
        return jax.lax.conv_general_dilated(x, w, strides, 'SAME', dimension_numbers=DIMENSIONS)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        cin = x.shape[-1]
        if self.mask is not None and (self.stride != 1 or self.transpose):
            raise ValueError('WNConv: a masked (autoregressive) layer cannot change resolution')
        kh, kw = (2, 3) if self.mask is not None else self.kernel_size
        v = self.param('v', nn.initializers.normal(0.05), (kh, kw, cin, self.features))
        if self.mask is not None:
            v = v * jnp.asarray(kernel_mask(self._spec(), cin))
        direction = normalised(v)
        g_init = b_init = None
        if self.is_initializing():
            g_init, b_init = data_dependent_init(self._conv(x, direction), self.init_scale)
        g = self.param('g', lambda _: g_init)
        b = self.param('b', lambda _: b_init)
        # Scaling the kernel (Cout numbers), not the output (B H W Cout numbers).
        return self._conv(x, direction * g) + b
