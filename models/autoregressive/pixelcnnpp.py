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

Sampling is cached (Ramachandran et al. 2017, arXiv:1704.06001): u once per row, ul once per
pixel, every layer at its own grid's position (`CachedGenerator`, `cached.py`); it draws the
same samples as the naive sampler (`sampler='naive'`, one full pass per pixel).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from models.autoregressive.cached import PixelCtx, RowCtx, conv_resolutions
from models.autoregressive.image_family import ImageAutoregressive, build
from models.autoregressive.layers import ConvSpec, pointwise
from models.autoregressive.logistic_mixture import LogisticMixtureHead
from models.core.family import Family, takes_keywords_of
from models.layers.gated import gated_residual_branch


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
    return x + gated_residual_branch(
        x,
        lambda h: ctx.conv(f'{name}/conv1', h, spec(filters)),
        lambda h: ctx.conv(f'{name}/conv2', h, spec(2 * filters, init_scale=0.1)),
        lambda h: ctx.dropout(h, dropout),
        skip=link,
        project_skip=lambda h: ctx.conv(f'{name}/link', h, pointwise(filters)),
    )


def with_ones(x):
    """A channel of ones tells the image from the zero padding at its borders."""
    return jnp.concatenate([x, jnp.ones_like(x[..., :1])], axis=-1)


class Network:
    """The network as two streams, so that the cached generator can run them on different
    schedules: `u` (rows above) depends on finished rows only and runs once per row; `ul` (rows
    above and pixels to the left) runs per pixel, reading u's values as links. The training pass
    is `forward`; u never reads ul, so computing it first changes nothing."""

    def __init__(self, head, filters: int, num_resnet: int, dropout: float, num_scales: int):
        self.head = head
        self.filters = filters
        self.num_resnet = num_resnet
        self.dropout = dropout
        self.num_scales = num_scales

    # The first layers read the image; their outputs are shifted down (u, ul's top part) or
    # right (ul's left part) by one, so that no output sees its own pixel.
    def first_u(self, ctx, x1):
        return ctx.conv('in/u', x1, down_shifted(self.filters))

    def first_ul_up(self, ctx, x1):
        return ctx.conv('in/ul_up', x1, down_shifted(self.filters, kh=1))

    def first_ul_left(self, ctx, x1):
        return ctx.conv('in/ul_left', x1, down_right_shifted(self.filters, kw=1))

    def u_stream(self, ctx, u):
        """The down-shifted first u layer -> u after every block, the links ul reads, in order."""
        f, dropout = self.filters, self.dropout
        u_list, links = [u], []
        for scale in range(self.num_scales):
            if scale > 0:
                u_list.append(ctx.conv(f'down{scale}/u', u_list[-1], down_shifted(f, stride=2)))
            for r in range(self.num_resnet):
                u_list.append(
                    gated_resnet(ctx, f'down{scale}/res{r}/u', u_list[-1], down_shifted, dropout)
                )
                links.append(u_list[-1])
        u = u_list.pop()
        for scale in reversed(range(self.num_scales)):
            for r in range(self._up_blocks(scale)):
                name = f'up{scale}/res{r}/u'
                u = gated_resnet(ctx, name, u, down_shifted, dropout, link=u_list.pop())
                links.append(u)
            if scale > 0:
                u = ctx.conv(f'up{scale}/u', u, down_shifted(f, stride=2, transpose=True))
        assert not u_list
        return links

    def ul_stream(self, ctx, ul, links):
        """The first ul value and u's links -> the head's input."""
        f, dropout = self.filters, self.dropout
        links = iter(links)
        ul_list = [ul]
        for scale in range(self.num_scales):
            if scale > 0:
                spec = down_right_shifted(f, stride=2)
                ul_list.append(ctx.conv(f'down{scale}/ul', ul_list[-1], spec))
            for r in range(self.num_resnet):
                name = f'down{scale}/res{r}/ul'
                ul_list.append(
                    gated_resnet(
                        ctx, name, ul_list[-1], down_right_shifted, dropout, link=next(links)
                    )
                )
        ul = ul_list.pop()
        for scale in reversed(range(self.num_scales)):
            for r in range(self._up_blocks(scale)):
                link = jnp.concatenate([next(links), ul_list.pop()], axis=-1)
                name = f'up{scale}/res{r}/ul'
                ul = gated_resnet(ctx, name, ul, down_right_shifted, dropout, link=link)
            if scale > 0:
                spec = down_right_shifted(f, stride=2, transpose=True)
                ul = ctx.conv(f'up{scale}/ul', ul, spec)
        assert not ul_list and next(links, None) is None
        return ctx.conv('out', jax.nn.elu(ul), pointwise(self.head.num_outputs))

    def _up_blocks(self, scale: int) -> int:
        # The coarsest scale has no up-sampled input: its blocks consume num_resnet shortcuts,
        # the others one more (the down-sampling's output at that scale).
        return self.num_resnet if scale == self.num_scales - 1 else self.num_resnet + 1

    def forward(self, ctx, x, labels):
        del labels
        x1 = with_ones(x)
        u = down_shift(self.first_u(ctx, x1))
        ul = down_shift(self.first_ul_up(ctx, x1)) + right_shift(self.first_ul_left(ctx, x1))
        return self.ul_stream(ctx, ul, self.u_stream(ctx, u))


class CachedGenerator:
    """Per row, the u stream (RowCtx) over the finished rows; per pixel, the ul stream (PixelCtx).

    At the start of row i the first u layers run on image row i - 1 (their outputs, shifted down,
    are row i's), then the rest of u on row i at every scale. At pixel (i, j) ul starts from the
    down-shifted top part (from that row pass) plus the right-shifted left part, which `commit`
    computed at (i, j - 1) when that pixel was finished."""

    def __init__(self, net: Network, image_hw: tuple[int, int], resolutions: dict):
        self.net = net
        self.image_hw = image_hw
        self.resolutions = resolutions

    def _row_ctx(self, params, buffers, i):
        return RowCtx(params, buffers, self.image_hw, i, self.resolutions)

    def _pixel_ctx(self, params, buffers, i, j):
        return PixelCtx(params, buffers, self.image_hw, i, j, self.resolutions)

    def start(self, params, labels, x_pixel):
        """Zero buffers and values, shaped by dry runs at row 0 and pixel (0, 0)."""
        num, width = x_pixel.shape[0], self.image_hw[1]
        row = with_ones(jnp.zeros((num, width, x_pixel.shape[-1]), x_pixel.dtype))
        ctx = self._row_ctx(params, {}, 0)
        top, ul_up = self.net.first_u(ctx, row), self.net.first_ul_up(ctx, row)
        links = self.net.u_stream(ctx, top)
        pixel_ctx = self._pixel_ctx(params, ctx.buffers, 0, 0)
        left = self.net.first_ul_left(pixel_ctx, with_ones(x_pixel))
        self.net.ul_stream(pixel_ctx, ul_up[:, 0] + left, [v[:, 0] for v in links])
        cache = {'buffers': pixel_ctx.buffers, 'links': links, 'ul_up': ul_up, 'left': left}
        return jax.tree.map(jnp.zeros_like, cache)

    def row(self, params, cache, labels, i, prev_row):
        """prev_row: image row i - 1 (any row for i = 0, whose shifted inputs are zero)."""
        above = i > 0
        x1 = with_ones(prev_row)
        ctx = self._row_ctx(params, cache['buffers'], jnp.maximum(i - 1, 0))
        u = jnp.where(above, self.net.first_u(ctx, x1), 0.0)
        ul_up = jnp.where(above, self.net.first_ul_up(ctx, x1), 0.0)
        ctx = self._row_ctx(params, ctx.buffers, i)
        links = self.net.u_stream(ctx, u)
        return {**cache, 'buffers': ctx.buffers, 'links': links, 'ul_up': ul_up}

    def pixel(self, params, cache, labels, i, j, x_pixel):
        del x_pixel  # the output at (i, j) does not depend on pixel (i, j)
        width = self.image_hw[1]
        ctx = self._pixel_ctx(params, cache['buffers'], i, j)
        ul = cache['ul_up'][:, j] + jnp.where(j > 0, cache['left'], 0.0)
        # A link on a grid f times coarser holds column j // f of that grid's row.
        links = [v[:, j // (width // v.shape[1])] for v in cache['links']]
        out = self.net.ul_stream(ctx, ul, links)
        return {**cache, 'buffers': ctx.buffers}, out

    def commit(self, params, cache, labels, i, j, x_pixel):
        """The finished pixel (i, j): ul's left part at (i, j), for pixel (i, j + 1)."""
        ctx = self._pixel_ctx(params, cache['buffers'], i, j)
        left = self.net.first_ul_left(ctx, with_ones(x_pixel))
        return {**cache, 'buffers': ctx.buffers, 'left': left}


def model(
    data_spec,
    filters: int = 160,
    num_resnet: int = 5,
    num_mix: int = 10,
    dropout: float = 0.5,
    num_scales: int = 3,
    sampler: str = 'cached',
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
    if sampler not in ('cached', 'naive'):
        raise ValueError(f"pixelcnnpp: sampler must be 'cached' or 'naive', got {sampler!r}")
    head = LogisticMixtureHead(channels, data_spec.num_levels, num_mix)
    net = Network(head, filters, num_resnet, dropout, num_scales)
    cached = None
    if sampler == 'cached':
        image = jnp.zeros((1, height, width, channels), jnp.float32)
        cached = CachedGenerator(net, (height, width), conv_resolutions(net.forward, image))
    return build(
        data_spec,
        net.forward,
        head,
        weight_norm=True,
        sees_own_pixel=False,
        cached=cached,
        name='pixelcnnpp',
    )


@takes_keywords_of(model)
def make(data_spec, **kw) -> Family:
    return model(data_spec, **kw).family
