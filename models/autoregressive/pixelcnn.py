"""PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks",
arXiv:1601.06759, Section 3.5 and Figure 5).

A 7x7 convolution with mask A, residual blocks of (1x1 to h, 3x3 mask B, 1x1 to 2h) with ReLUs,
two 1x1 mask-B layers and a softmax over the levels of each sub-pixel. Every layer's channels are
split into R, G, B groups; the masks let group c see earlier pixels and, at the current pixel,
the channels before c (mask A) or up to c (mask B), so the model factorises over sub-pixels in
R -> G -> B order. Its receptive field has the well-known blind spot to the upper right, which
Gated PixelCNN removes (see the tests).
"""

from __future__ import annotations

import jax

from models.autoregressive.cached import PixelwiseNetwork
from models.autoregressive.image_family import CategoricalHead, ImageAutoregressive, build
from models.autoregressive.layers import ConvSpec, pointwise
from models.core.family import Family, takes_keywords_of


def masked(kernel_size: int, cout: int, mask: str, groups: int) -> ConvSpec:
    """A k x k masked convolution, cropped to the rows it may read (the bottom half is all zero)."""
    half = kernel_size // 2
    return ConvSpec(half + 1, kernel_size, half, half, cout, mask, groups)


def network(channels: int, head, hidden: int, num_blocks: int, out_hidden: int, first_kernel: int):
    def forward(ctx, x, labels):
        del labels
        g = channels
        y = ctx.conv('in', x, masked(first_kernel, 2 * hidden, 'A', g))  # [B, H, W, 2h]
        for b in range(num_blocks):
            t = ctx.conv(f'block{b}/reduce', jax.nn.relu(y), pointwise(hidden, 'B', g))
            t = ctx.conv(f'block{b}/conv', jax.nn.relu(t), masked(3, hidden, 'B', g))
            y = y + ctx.conv(f'block{b}/expand', jax.nn.relu(t), pointwise(2 * hidden, 'B', g))
        y = ctx.conv('out/hidden', jax.nn.relu(y), pointwise(out_hidden, 'B', g))
        return ctx.conv('out/logits', jax.nn.relu(y), pointwise(head.num_outputs, 'B', g))

    return forward


def model(
    data_spec,
    hidden: int = 128,
    num_blocks: int = 15,
    out_hidden: int = 1024,
    first_kernel: int = 7,
    sampler: str = 'cached',
) -> ImageAutoregressive:
    """hidden: h of the residual blocks (2h channels between blocks)."""
    if sampler not in ('cached', 'naive'):
        raise ValueError(f"pixelcnn: sampler must be 'cached' or 'naive', got {sampler!r}")
    if data_spec.num_levels is None:
        raise ValueError(f'pixelcnn needs discrete images; {data_spec.name!r} is continuous')
    height, width, channels = data_spec.shape
    head = CategoricalHead(channels, data_spec.num_levels)
    forward = network(channels, head, hidden, num_blocks, out_hidden, first_kernel)
    cached = PixelwiseNetwork(forward, (height, width)) if sampler == 'cached' else None
    return build(data_spec, forward, head, cached=cached, name='pixelcnn')


@takes_keywords_of(model)
def make(data_spec, **kw) -> Family:
    return model(data_spec, **kw).family
