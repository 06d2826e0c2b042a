"""Gated PixelCNN (van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu 2016,
"Conditional Image Generation with PixelCNN Decoders", arXiv:1606.05328, Section 2 and Figure 2).

Two stacks remove PixelCNN's blind spot. The vertical stack convolves the rows at and above the
current one (a (k//2 + 1) x k kernel); shifted down by one row it only carries rows above, and a
1x1 convolution feeds it into the horizontal stack, which convolves the current row to the left
(a 1 x (k//2 + 1) kernel, channel-masked A in the first layer and B after). Activations are gated,
tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h), where h is a class embedding in the
class-conditional variant; the horizontal stack has residual connections.

Cached sampling computes the vertical stack once per finished row and the horizontal stack once
per sub-pixel, against buffers of each layer's inputs (`cached.py`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from models.autoregressive.cached import PixelCtx, RowCtx
from models.autoregressive.image_family import CategoricalHead, ImageAutoregressive, build
from models.autoregressive.layers import ConvSpec, pointwise
from models.core.family import Family, takes_keywords_of
from models.layers.gated import gated_tanh


class Network:
    def __init__(self, channels, head, features, num_layers, kernel_size, out_hidden, num_classes):
        self.channels = channels
        self.head = head
        self.features = features
        self.num_layers = num_layers
        self.half = kernel_size // 2
        self.kernel_size = kernel_size
        self.out_hidden = out_hidden
        self.num_classes = num_classes

    def _condition(self, ctx, name, labels):
        if labels is None:
            return 0.0
        return ctx.spatial(ctx.embed(name, labels, self.num_classes, 2 * self.features))

    def vertical(self, ctx, x, labels):
        """Pre-gate features of every vertical layer at rows <= i (not yet shifted)."""
        k, half, f = self.kernel_size, self.half, self.features
        pre_gates = []
        v = x
        for layer in range(self.num_layers):
            pre = ctx.conv(f'v{layer}', v, ConvSpec(half + 1, k, half, half, 2 * f))
            pre = pre + self._condition(ctx, f'v{layer}/class', labels)
            pre_gates.append(pre)
            v = gated_tanh(pre)
        return pre_gates

    def horizontal(self, ctx, x, shifted, labels):
        """shifted[layer]: the vertical pre-gates of the row above (zeros on the first row)."""
        g, half, f = self.channels, self.half, self.features
        h = x
        for layer in range(self.num_layers):
            mask = 'A' if layer == 0 else 'B'
            spec = ConvSpec(1, half + 1, 0, half, 2 * f, mask, g, gated_out=True)
            pre = ctx.conv(f'h{layer}', h, spec)
            # The link carries rows above only, so every colour group may see all of it.
            pre = pre + ctx.conv(f'link{layer}', shifted[layer], pointwise(2 * f))
            pre = pre + self._condition(ctx, f'h{layer}/class', labels)
            out = ctx.conv(f'h{layer}/out', gated_tanh(pre), pointwise(f, 'B', g))
            h = out if layer == 0 else h + out
        y = ctx.conv('out/hidden', jax.nn.relu(h), pointwise(self.out_hidden, 'B', g))
        return ctx.conv('out/logits', jax.nn.relu(y), pointwise(self.head.num_outputs, 'B', g))

    def forward(self, ctx, x, labels):
        pre_gates = self.vertical(ctx, x, labels)
        shifted = [jnp.pad(v, ((0, 0), (1, 0), (0, 0), (0, 0)))[:, :-1] for v in pre_gates]
        return self.horizontal(ctx, x, shifted, labels)


class CachedGenerator:
    """Vertical stack per finished row (RowCtx), horizontal stack per sub-pixel (PixelCtx)."""

    def __init__(self, net: Network, image_hw):
        self.net = net
        self.image_hw = image_hw

    def start(self, params, labels, x_pixel):
        num, width = x_pixel.shape[0], self.image_hw[1]
        row_ctx = RowCtx(params, {}, self.image_hw, 0)
        pre_gates = self.net.vertical(row_ctx, jnp.zeros((num, width, self.net.channels)), labels)
        pixel_ctx = PixelCtx(params, row_ctx.buffers, self.image_hw, 0, 0)
        self.net.horizontal(pixel_ctx, x_pixel, [v[:, 0] for v in pre_gates], labels)
        zeros = lambda t: jax.tree.map(jnp.zeros_like, t)  # noqa: E731
        return {'buffers': zeros(pixel_ctx.buffers), 'shifted': zeros(pre_gates)}

    def row(self, params, cache, labels, i, prev_row):
        """At the start of row i, the vertical stack over the finished row i - 1."""

        def advance(cache):
            ctx = RowCtx(params, cache['buffers'], self.image_hw, i - 1)
            pre_gates = self.net.vertical(ctx, prev_row, labels)
            return {'buffers': ctx.buffers, 'shifted': pre_gates}

        return jax.lax.cond(i > 0, advance, lambda c: c, cache)

    def pixel(self, params, cache, labels, i, j, x_pixel):
        ctx = PixelCtx(params, cache['buffers'], self.image_hw, i, j)
        link = [jax.lax.dynamic_index_in_dim(v, j, 1, False) for v in cache['shifted']]
        out = self.net.horizontal(ctx, x_pixel, link, labels)
        return {'buffers': ctx.buffers, 'shifted': cache['shifted']}, out

    def commit(self, params, cache, labels, i, j, x_pixel):
        """Reruns the pixel with all its channels: the horizontal stack's buffers of the image
        hold it as it was before its last channel was drawn."""
        return self.pixel(params, cache, labels, i, j, x_pixel)[0]


def model(
    data_spec,
    features: int = 384,
    num_layers: int = 20,
    kernel_size: int = 5,
    out_hidden: int = 1024,
    class_conditional: bool = False,
    sampler: str = 'cached',
) -> ImageAutoregressive:
    if sampler not in ('cached', 'naive'):
        raise ValueError(f"gated_pixelcnn: sampler must be 'cached' or 'naive', got {sampler!r}")
    if kernel_size % 2 != 1:
        raise ValueError(f'gated_pixelcnn: kernel_size must be odd, got {kernel_size}')
    if data_spec.num_levels is None:
        raise ValueError(f'gated_pixelcnn needs discrete images; {data_spec.name!r} is continuous')
    height, width, channels = data_spec.shape
    head = CategoricalHead(channels, data_spec.num_levels)
    num_classes = data_spec.num_classes if class_conditional else None
    net = Network(channels, head, features, num_layers, kernel_size, out_hidden, num_classes)
    cached = CachedGenerator(net, (height, width)) if sampler == 'cached' else None
    return build(
        data_spec,
        net.forward,
        head,
        cached=cached,
        class_conditional=class_conditional,
        name='gated_pixelcnn',
    )


@takes_keywords_of(model)
def make(data_spec, **kw) -> Family:
    return model(data_spec, **kw).family
