"""A PyTorch reference of this repo's RealNVP (models/flows/realnvp.py), for the speed comparison
in flow_speed.py only: the same layers, shapes and training step (logit preprocessing, affine
checkerboard / channel couplings with weight-normalised ResNets, batch-norm bijectors, squeeze,
factor-out; Adam and an EMA of the parameters). Imported only when torch is installed; torch is
not a dependency of the repo.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class WNConv(nn.Module):
    def __init__(self, cin, cout, zero=False):
        super().__init__()
        self.v = nn.Parameter(torch.randn(cout, cin, 3, 3) * 0.05)
        self.g = nn.Parameter(torch.zeros(cout) if zero else torch.ones(cout))
        self.b = nn.Parameter(torch.zeros(cout))

    def forward(self, x):
        norm = self.v.pow(2).sum(dim=(1, 2, 3), keepdim=True).rsqrt()
        w = self.v * norm * self.g.view(-1, 1, 1, 1)
        return nn.functional.conv2d(x, w, self.b, padding=1)


class ResNet(nn.Module):
    def __init__(self, cin, cout, features, blocks):
        super().__init__()
        self.inp = WNConv(cin, features)
        self.blocks = nn.ModuleList(
            nn.ModuleList([WNConv(features, features), WNConv(features, features)])
            for _ in range(blocks)
        )
        self.out = WNConv(features, cout, zero=True)

    def forward(self, x):
        h = self.inp(x)
        for a, b in self.blocks:
            h = h + b(torch.relu(a(torch.relu(h))))
        return self.out(torch.relu(h))


def checkerboard(h, w, parity):
    i = torch.arange(h).view(-1, 1)
    j = torch.arange(w).view(1, -1)
    return ((i + j) % 2 == parity).float().view(1, 1, h, w)


class Coupling(nn.Module):
    def __init__(self, mask, parity, channels, features, blocks):
        super().__init__()
        self.mask, self.parity = mask, parity
        c = channels // 2 if mask == 'channel' else channels
        self.net = ResNet(c, 2 * c, features, blocks)
        self.rescale = nn.Parameter(torch.ones(1, c, 1, 1))

    def forward(self, x):  # -> (y, logdet [B])
        if self.mask == 'channel':
            a, b = x.chunk(2, dim=1)
            kept, changed = (b, a) if self.parity else (a, b)
            s, t = self.net(kept).chunk(2, dim=1)
            log_s = self.rescale * torch.tanh(s)
            y = changed * log_s.exp() + t
            parts = (y, kept) if self.parity else (kept, y)
            return torch.cat(parts, dim=1), log_s.flatten(1).sum(1)
        m = checkerboard(x.shape[2], x.shape[3], self.parity)
        s, t = self.net(x * m).chunk(2, dim=1)
        log_s = self.rescale * torch.tanh(s) * (1 - m)
        y = m * x + (1 - m) * (x * log_s.exp() + t)
        return y, log_s.flatten(1).sum(1)


class BatchNorm(nn.Module):
    def __init__(self, channels, momentum=0.95, eps=1e-4):
        super().__init__()
        self.log_gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer('mean', torch.zeros(1, channels, 1, 1))
        self.register_buffer('var', torch.ones(1, channels, 1, 1))
        self.momentum, self.eps = momentum, eps

    def forward(self, x):
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
        with torch.no_grad():
            self.mean.lerp_(mean, 1 - self.momentum)
            self.var.lerp_(var, 1 - self.momentum)
        log_scale = self.log_gamma - 0.5 * torch.log(var + self.eps)
        y = (x - mean) * log_scale.exp() + self.beta
        return y, log_scale.sum() * x.shape[2] * x.shape[3] * torch.ones(x.shape[0])


def squeeze(x):
    b, c, h, w = x.shape
    x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(b, 4 * c, h // 2, w // 2)


class Scale(nn.Module):
    def __init__(self, channels, scales, features, blocks):
        super().__init__()
        last = scales == 1
        self.first = nn.ModuleList()
        for i in range(4 if last else 3):
            self.first += [
                Coupling('checkerboard', i % 2, channels, features, blocks),
                BatchNorm(channels),
            ]
        self.second = nn.ModuleList()
        self.inner = None
        if not last:
            for i in range(3):
                self.second += [
                    Coupling('channel', i % 2, 4 * channels, features, blocks),
                    BatchNorm(4 * channels),
                ]
            self.inner = Scale(2 * channels, scales - 1, features, blocks)

    def forward(self, x):
        total = torch.zeros(x.shape[0])
        for layer in self.first:
            x, ld = layer(x)
            total = total + ld
        if self.inner is None:
            return x, total
        x = squeeze(x)
        for layer in self.second:
            x, ld = layer(x)
            total = total + ld
        kept, rest = x.chunk(2, dim=1)
        rest, ld = self.inner(rest)
        return torch.cat([kept, rest], dim=1), total + ld  # the unsqueeze is a free permutation


class RealNVP(nn.Module):
    def __init__(self, channels=3, scales=2, features=64, blocks=8, alpha=0.05, levels=256):
        super().__init__()
        self.flow = Scale(channels, scales, features, blocks)
        self.alpha, self.levels = alpha, levels

    def loss(self, levels_nchw):
        y = (levels_nchw + torch.rand_like(levels_nchw)) / self.levels
        p = self.alpha + (1 - 2 * self.alpha) * y
        x = torch.log(p) - torch.log1p(-p)
        logit_ld = (math.log(1 - 2 * self.alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
        z, ld = self.flow(x)
        d = z[0].numel()
        log_pz = (-0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)
        nll = -(log_pz + ld + logit_ld - d * math.log(self.levels))
        return nll.mean() / d


class TrainStep:
    """Adam + EMA 0.999, as the repo's shared step in harness.measure_family."""

    def __init__(self, model_kw, batch_uint8_nhwc, lr=1e-4, ema=0.999):
        torch.manual_seed(0)
        self.model = RealNVP(**model_kw)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.ema = [p.detach().clone() for p in self.model.parameters()]
        self.decay = ema
        self.x = torch.from_numpy(batch_uint8_nhwc).permute(0, 3, 1, 2).float().contiguous()

    def __call__(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.model.loss(self.x)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(self.ema, list(self.model.parameters()), 1 - self.decay)
        return float(loss.detach())
