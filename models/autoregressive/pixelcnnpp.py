"""PixelCNN++ (Salimans, Karpathy, Chen & Kingma 2017, "PixelCNN++: Improving the PixelCNN with
Discretized Logistic Mixture Likelihood and Other Modifications", arXiv:1701.05517).

Two streams remove the blind spot without channel masks: `u` sees the rows above (down-shifted
2x3 convolutions) and `ul` the rows above and the pixels to the left (down-right-shifted 2x2
convolutions). Three resolutions (two stride-2 down-samplings, then shifted transposed
convolutions back up) with every down-pass activation fed into the matching up-pass block as a
shortcut. Blocks are gated ResNets with concat_elu, dropout before the second convolution, a
1x1 link from u (and the shortcuts) into ul, and weight normalisation with data-dependent init.
The network conditions on whole earlier pixels; the discretised logistic mixture head couples a
pixel's channels (`logistic_mixture.py`). Polyak averaging is the trainer's EMA (config).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from models.autoregressive.image_family import ImageAutoregressive, build
from models.autoregressive.layers import ConvSpec, concat_elu, pointwise
from models.autoregressive.logistic_mixture import LogisticMixtureHead
from models.core.family import Family


def down_shifted(cout: int, kh: int = 2, kw: int = 3, **kw_) -> ConvSpec:
    """Output (i, j) reads rows i - kh + 1 .. i, columns j - kw//2 .. j + kw//2."""
    return ConvSpec(kh, kw, kh - 1, kw // 2, cout, **kw_)


def down_right_shifted(cout: int, kh: int = 2, kw: int = 2, **kw_) -> ConvSpec:
    """Output (i, j) reads rows i - kh + 1 .. i, columns j - kw + 1 .. j."""
    return ConvSpec(kh, kw, kh - 1, kw - 1, cout, **kw_)


def down_shift(x):
    return jnp.pad(x, ((0, 0), (1, 0), (0, 0), (0, 0)))[:, :-1]


def right_shift(x):
    return jnp.pad(x, ((0, 0), (0, 0), (1, 0), (0, 0)))[:, :, :-1]


def gated_resnet(ctx, name, x, spec, dropout, link=None):
    """x + a * sigmoid(b), [a, b] = conv(dropout(concat_elu(conv(concat_elu(x)) + nin(link))))."""
    filters = x.shape[-1]
    c1 = ctx.conv(f'{name}/conv1', concat_elu(x), spec(filters))
    if link is not None:
        c1 = c1 + ctx.conv(f'{name}/link', concat_elu(link), pointwise(filters))
    c1 = ctx.dropout(concat_elu(c1), dropout)
    c2 = ctx.conv(f'{name}/conv2', c1, spec(2 * filters, init_scale=0.1))
    a, b = jnp.split(c2, 2, axis=-1)
    return x + a * jax.nn.sigmoid(b)


def network(head, filters: int, num_resnet: int, dropout: float, num_scales: int = 3):
    def forward(ctx, x, labels):
        del labels
        # A channel of ones tells image from zero padding at the borders.
        x = jnp.concatenate([x, jnp.ones_like(x[..., :1])], axis=-1)
        u_list = [down_shift(ctx.conv('in/u', x, down_shifted(filters)))]
        ul_list = [
            down_shift(ctx.conv('in/ul_up', x, down_shifted(filters, kh=1)))
            + right_shift(ctx.conv('in/ul_left', x, down_right_shifted(filters, kw=1)))
        ]
        for scale in range(num_scales):
            if scale > 0:
                u_list.append(
                    ctx.conv(f'down{scale}/u', u_list[-1], down_shifted(filters, stride=2))
                )
                ul_list.append(
                    ctx.conv(f'down{scale}/ul', ul_list[-1], down_right_shifted(filters, stride=2))
                )
            for r in range(num_resnet):
                n = f'down{scale}/res{r}'
                u_list.append(gated_resnet(ctx, f'{n}/u', u_list[-1], down_shifted, dropout))
                ul_list.append(
                    gated_resnet(
                        ctx, f'{n}/ul', ul_list[-1], down_right_shifted, dropout, link=u_list[-1]
                    )
                )
        u, ul = u_list.pop(), ul_list.pop()
        for scale in reversed(range(num_scales)):
            # The coarsest scale has no up-sampled input: its blocks consume num_resnet shortcuts,
            # the others one more (the down-sampling's output at that scale).
            blocks = num_resnet if scale == num_scales - 1 else num_resnet + 1
            for r in range(blocks):
                n = f'up{scale}/res{r}'
                u = gated_resnet(ctx, f'{n}/u', u, down_shifted, dropout, link=u_list.pop())
                link = jnp.concatenate([u, ul_list.pop()], axis=-1)
                ul = gated_resnet(ctx, f'{n}/ul', ul, down_right_shifted, dropout, link=link)
            if scale > 0:
                up_u = down_shifted(filters, stride=2, transpose=True)
                up_ul = down_right_shifted(filters, stride=2, transpose=True)
                u = ctx.conv(f'up{scale}/u', u, up_u)
                ul = ctx.conv(f'up{scale}/ul', ul, up_ul)
        assert not u_list and not ul_list
        return ctx.conv('out', jax.nn.elu(ul), pointwise(head.num_outputs))

    return forward


def model(
    data_spec,
    filters: int = 160,
    num_resnet: int = 5,
    num_mix: int = 10,
    dropout: float = 0.5,
    num_scales: int = 3,
) -> ImageAutoregressive:
    if data_spec.num_levels is None or len(data_spec.shape) != 3:
        raise ValueError(f'pixelcnnpp needs discrete images [H, W, C]; got {data_spec.name!r}')
    height, width, channels = data_spec.shape
    if height % 2 ** (num_scales - 1) or width % 2 ** (num_scales - 1):
        raise ValueError(
            f'pixelcnnpp: {num_scales} scales halve the image {num_scales - 1} times; '
            f'{height}x{width} is not divisible by {2 ** (num_scales - 1)}'
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f'pixelcnnpp: dropout must be in [0, 1), got {dropout}')
    head = LogisticMixtureHead(channels, data_spec.num_levels, num_mix)
    forward = network(head, filters, num_resnet, dropout, num_scales)
    return build(
        data_spec, forward, head, weight_norm=True, sees_own_pixel=False, name='pixelcnnpp'
    )


def make(data_spec, **kw) -> Family:
    return model(data_spec, **kw).family
