"""A PyTorch PixelCNN++ of the same architecture as models/autoregressive/pixelcnnpp.py, written
for the speed comparison in autoregressive_speed.py only (torch is not a dependency of the repo;
this module is imported only when torch is installed).

Same layers, shapes and loss as the JAX model: down-shifted 2x3 / down-right-shifted 2x2
weight-normalised convolutions, gated ResNet blocks with concat_elu and dropout, two stride-2
down-samplings and shifted transposed convolutions back up with shortcuts, and the discretised
logistic mixture likelihood with channel coupling. No data-dependent init (irrelevant to speed).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class WNConv(nn.Module):
    """Weight-normalised conv reading rows i-top..i-top+kh-1, cols j-left..j-left+kw-1."""

    def __init__(self, cin, cout, kh, kw, top, left, stride=1, transpose=False):
        super().__init__()
        self.kh, self.kw, self.top, self.left = kh, kw, top, left
        self.stride, self.transpose = stride, transpose
        shape = (cin, cout, kh, kw) if transpose else (cout, cin, kh, kw)
        self.v = nn.Parameter(0.05 * torch.randn(shape))
        self.g = nn.Parameter(torch.ones(cout))
        self.b = nn.Parameter(torch.zeros(cout))

    def forward(self, x):
        dims = (0, 2, 3) if self.transpose else (1, 2, 3)
        norm = self.v.pow(2).sum(dim=dims, keepdim=True).sqrt()
        scale = self.g.view(1, -1, 1, 1) if self.transpose else self.g.view(-1, 1, 1, 1)
        w = self.v * scale / norm
        if self.transpose:
            h, wd = x.shape[2], x.shape[3]
            y = F.conv_transpose2d(x, w, self.b, stride=self.stride)
            # Keep the causal 2H x 2W window (as the JAX model's dilated convolution does).
            off = self.kw - 1 - self.left if self.kw > 2 else 0
            return y[:, :, : 2 * h, off : off + 2 * wd]
        x = F.pad(x, (self.left, self.kw - 1 - self.left, self.top, self.kh - 1 - self.top))
        return F.conv2d(x, w, self.b, stride=self.stride)


def down_shifted(cin, cout, kh=2, kw=3, **kw_):
    return WNConv(cin, cout, kh, kw, kh - 1, kw // 2, **kw_)


def down_right_shifted(cin, cout, kh=2, kw=2, **kw_):
    return WNConv(cin, cout, kh, kw, kh - 1, kw - 1, **kw_)


def concat_elu(x):
    return F.elu(torch.cat([x, -x], dim=1))


def down_shift(x):
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def right_shift(x):
    return F.pad(x, (1, 0, 0, 0))[:, :, :, :-1]


class GatedResnet(nn.Module):
    def __init__(self, filters, conv, link_channels, dropout):
        super().__init__()
        self.conv1 = conv(2 * filters, filters)
        self.link = WNConv(2 * link_channels, filters, 1, 1, 0, 0) if link_channels else None
        self.conv2 = conv(2 * filters, 2 * filters)
        self.dropout = dropout

    def forward(self, x, link=None):
        c1 = self.conv1(concat_elu(x))
        if self.link is not None:
            c1 = c1 + self.link(concat_elu(link))
        c1 = F.dropout(concat_elu(c1), self.dropout, self.training)
        a, b = self.conv2(c1).chunk(2, dim=1)
        return x + a * torch.sigmoid(b)


class PixelCNNpp(nn.Module):
    def __init__(self, channels=3, filters=40, num_resnet=3, num_mix=10, dropout=0.5, scales=3):
        super().__init__()
        f, self.scales, self.num_resnet = filters, scales, num_resnet
        self.channels, self.num_mix = channels, num_mix
        cin = channels + 1
        self.in_u = down_shifted(cin, f)
        self.in_ul_up = down_shifted(cin, f, kh=1)
        self.in_ul_left = down_right_shifted(cin, f, kw=1)
        mk = lambda conv, link: GatedResnet(f, conv, link, dropout)  # noqa: E731
        self.down_u = nn.ModuleList()
        self.down_ul = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for s in range(scales):
            if s > 0:
                self.downsample.append(
                    nn.ModuleList(
                        [down_shifted(f, f, stride=2), down_right_shifted(f, f, stride=2)]
                    )
                )
            self.down_u.append(nn.ModuleList([mk(down_shifted, 0) for _ in range(num_resnet)]))
            self.down_ul.append(
                nn.ModuleList([mk(down_right_shifted, f) for _ in range(num_resnet)])
            )
        self.up_u = nn.ModuleList()
        self.up_ul = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for s in reversed(range(scales)):
            n = num_resnet if s == scales - 1 else num_resnet + 1
            self.up_u.append(nn.ModuleList([mk(down_shifted, f) for _ in range(n)]))
            self.up_ul.append(nn.ModuleList([mk(down_right_shifted, 2 * f) for _ in range(n)]))
            if s > 0:
                self.upsample.append(
                    nn.ModuleList(
                        [
                            down_shifted(f, f, stride=2, transpose=True),
                            down_right_shifted(f, f, stride=2, transpose=True),
                        ]
                    )
                )
        outputs = num_mix * (1 + 2 * channels + channels * (channels - 1) // 2)
        self.out = WNConv(f, outputs, 1, 1, 0, 0)

    def forward(self, x):
        x = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
        us = [down_shift(self.in_u(x))]
        uls = [down_shift(self.in_ul_up(x)) + right_shift(self.in_ul_left(x))]
        for s in range(self.scales):
            if s > 0:
                du, dul = self.downsample[s - 1]
                us.append(du(us[-1]))
                uls.append(dul(uls[-1]))
            for bu, bul in zip(self.down_u[s], self.down_ul[s], strict=True):
                us.append(bu(us[-1]))
                uls.append(bul(uls[-1], us[-1]))
        u, ul = us.pop(), uls.pop()
        for level, s in enumerate(reversed(range(self.scales))):
            for bu, bul in zip(self.up_u[level], self.up_ul[level], strict=True):
                u = bu(u, us.pop())
                ul = bul(ul, torch.cat([u, uls.pop()], dim=1))
            if s > 0:
                uu, uul = self.upsample[level]
                u, ul = uu(u), uul(ul)
        return self.out(F.elu(ul))


def mixture_nll(out, levels, num_levels, channels, num_mix):
    """Mean negative log-likelihood (nats per image) of integer levels [B, C, H, W]."""
    b, _, h, w = out.shape
    m = num_mix
    out = out.permute(0, 2, 3, 1)
    logits = out[..., :m]
    rest = out[..., m:].reshape(b, h, w, -1, m)
    means = rest[..., :channels, :]
    log_scales = rest[..., channels : 2 * channels, :].clamp(min=-7.0)
    coeffs = torch.tanh(rest[..., 2 * channels :, :])
    x = levels.permute(0, 2, 3, 1).float() * (2.0 / (num_levels - 1)) - 1.0  # [B, H, W, C]
    coupled, pair = [means[..., 0, :]], 0
    for c in range(1, channels):
        mean = means[..., c, :]
        for e in range(c):
            mean = mean + coeffs[..., pair, :] * x[..., e, None]
            pair += 1
        coupled.append(mean)
    means = torch.stack(coupled, dim=-2)
    half = 1.0 / (num_levels - 1)
    inv = torch.exp(-log_scales)
    centre = x[..., None]
    upper = inv * (centre + half - means)
    lower = inv * (centre - half - means)
    interior = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(-2 * half * inv))
    lv = levels.permute(0, 2, 3, 1)[..., None]
    lp = torch.where(
        lv == 0,
        F.logsigmoid(upper),
        torch.where(lv == num_levels - 1, F.logsigmoid(-lower), interior),
    )
    per_pixel = torch.logsumexp(F.log_softmax(logits, -1) + lp.sum(-2), -1)
    return -per_pixel.sum(dim=(1, 2)).mean()


def make_train_step(batch: int, shape=(32, 32, 3), num_levels=256, **model_kw):
    """(step, num_params): one Adam step on a fixed random batch, as the JAX step does."""
    torch.manual_seed(0)
    h, w, c = shape
    model = PixelCNNpp(channels=c, **model_kw)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    levels = torch.randint(0, num_levels, (batch, c, h, w))
    x = levels.float() * (2.0 / (num_levels - 1)) - 1.0
    dims = h * w * c
    num_mix = model.num_mix

    def step():
        opt.zero_grad(set_to_none=True)
        loss = mixture_nll(model(x), levels, num_levels, c, num_mix) / dims
        loss.backward()
        opt.step()
        return float(loss) / math.log(2.0)

    return step, sum(p.numel() for p in model.parameters())
