"""PyTorch references of this repo's VAEs, for the speed comparison in vae_speed.py only: the
ResNet VAE with bidirectional inference and conv IAF (models/vae/resnet_vae.py) and the MLP VAE
with an IAF posterior (models/vae/vae.py). Same layers, shapes, masks (built by the repo's own
mask functions), objective and optimizer step (Adamax and an EMA of the parameters). Not the same:
no data-dependent init (irrelevant to speed), and torch's stride-2 'SAME' conv pads (2, 2) where
XLA pads (1, 2) (same work). Imported only when torch is installed; torch is not a dependency of
the repo.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.autoregressive.layers import ConvSpec, kernel_mask
from models.layers.masked import connectivity_masks, cyclic_hidden_degrees, input_degrees

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def gaussian_log_prob(z, mean, log_scale):
    return -0.5 * ((z - mean) * torch.exp(-log_scale)) ** 2 - log_scale - HALF_LOG_2PI


class WNConv(nn.Module):
    """Weight-normalised conv: plain or stride 2 ('SAME'-sized), transposed, or masked causal
    (the 3x3 kernel cropped to its two live rows, as in models/vae/wn_conv.py)."""

    def __init__(
        self, cin, cout, k=3, stride=1, transpose=False, mask=None, groups=1, paired=False
    ):
        super().__init__()
        self.stride, self.transpose, self.k = stride, transpose, k
        kh, kw = (2, 3) if mask else (k, k)
        self.v = nn.Parameter(torch.randn(cout, cin, kh, kw) * 0.05)
        self.g = nn.Parameter(torch.ones(cout))
        self.b = nn.Parameter(torch.zeros(cout))
        self.mask = None
        if mask:
            m = kernel_mask(ConvSpec(2, 3, 1, 1, cout, mask, groups, paired), cin)  # HWIO
            self.register_buffer('mask_oihw', torch.from_numpy(m.transpose(3, 2, 0, 1).copy()))
            self.mask = True

    def forward(self, x):
        v = self.v * self.mask_oihw if self.mask else self.v
        w = v * (self.g / v.pow(2).sum(dim=(1, 2, 3)).add(1e-12).sqrt()).view(-1, 1, 1, 1)
        if self.mask:
            return F.conv2d(F.pad(x, (1, 1, 1, 0)), w, self.b)
        pad = (self.k - 1) // 2
        if self.transpose:
            # Transposed weights are [in, out, kh, kw]; output exactly stride x the input.
            return F.conv_transpose2d(
                x, w.transpose(0, 1), self.b, self.stride, pad, output_padding=self.stride - 1
            )
        return F.conv2d(x, w, self.b, self.stride, pad)


class ConvIAFStep(nn.Module):
    def __init__(self, z, h):
        super().__init__()
        self.h1 = WNConv(z, h, mask='B', groups=z)
        self.h2 = WNConv(h, h, mask='B', groups=z)
        self.out = WNConv(h, 2 * z, mask='A', groups=z, paired=True)

    def forward(self, z, context):
        a = F.elu(self.h1(z) + context)
        a = F.elu(self.h2(a))
        m, s = (0.1 * self.out(a)).chunk(2, dim=1)
        return (z - m) * torch.exp(-s), -s


class StochasticLayer(nn.Module):
    def __init__(self, h, z, downsample, iaf):
        super().__init__()
        self.h, self.z, self.c, self.downsample = h, z, h if iaf else 0, downsample
        stride = 2 if downsample else 1
        self.up_in = WNConv(h, 2 * z + self.c + h, stride=stride)
        self.up_out = WNConv(h, h)
        self.down_in = WNConv(h, 4 * z + self.c + h)
        self.down_out = WNConv(z + h, h, stride=stride, transpose=downsample)
        self.flow = ConvIAFStep(z, h) if iaf else None

    def up(self, h):
        z, c = self.z, self.c
        q_mean, q_log_scale, context, branch = self.up_in(F.elu(h)).split([z, z, c, self.h], 1)
        branch = self.up_out(F.elu(branch))
        if self.downsample:
            h = h[:, :, ::2, ::2]
        return h + 0.1 * branch, (q_mean, q_log_scale, context)

    def down(self, h, up):
        z, c = self.z, self.c
        parts = self.down_in(F.elu(h)).split([z, z, z, z, c, self.h], 1)
        p_mean, p_log_scale, r_mean, r_log_scale, context, branch = parts
        mean, log_scale = r_mean + up[0], r_log_scale + up[1]
        zs = mean + torch.exp(log_scale) * torch.randn_like(mean)
        log_q = gaussian_log_prob(zs, mean, log_scale)
        if self.flow is not None:
            zs, log_det = self.flow(zs, up[2] + context)
            log_q = log_q - log_det
        kl = log_q - gaussian_log_prob(zs, p_mean, p_log_scale)
        branch = self.down_out(F.elu(torch.cat([zs, branch], 1)))
        if self.downsample:
            h = h.repeat_interleave(2, 2).repeat_interleave(2, 3)
        return h + 0.1 * branch, kl


def discretized_logistic_log_prob(x, mean, log_scale, levels):
    """log P(x) of integer levels x under the logistic per sub-pixel, tails into the end bins
    (the same binning as models.autoregressive.logistic_mixture.bin_log_prob)."""
    half = 1.0 / (levels - 1)
    centre = x * (2.0 / (levels - 1)) - 1.0
    inv = torch.exp(-log_scale)
    upper, lower = inv * (centre + half - mean), inv * (centre - half - mean)
    interior = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(-2 * half * inv))
    out = torch.where(x == 0, F.logsigmoid(upper), interior)
    return torch.where(x == levels - 1, F.logsigmoid(-lower), out)


class ResNetVAE(nn.Module):
    def __init__(self, channels, levels, depth, num_blocks, h_size, z_size, iaf, kl_min):
        super().__init__()
        self.levels, self.kl_min = levels, kl_min
        self.x_enc = WNConv(channels, h_size, k=5, stride=2)
        self.layers = nn.ModuleList(
            StochasticLayer(h_size, z_size, i > 0 and j == 0, iaf)
            for i in range(depth)
            for j in range(num_blocks)
        )
        self.h_top = nn.Parameter(torch.zeros(h_size))
        self.x_dec = WNConv(h_size, channels, k=5, stride=2, transpose=True)
        self.log_scale = nn.Parameter(torch.zeros(()))
        self.depth = depth

    def forward(self, x, num_samples=1):
        """x [B, C, H, W] integer levels -> (log p(x|z) [n B], per-layer KLs), n posterior draws
        per image sharing one up pass."""
        h = self.x_enc(x * (2.0 / (self.levels - 1)) - 1.0)
        stats = []
        for layer in self.layers:
            h, s = layer.up(h)
            stats.append(tuple(a.repeat(num_samples, 1, 1, 1) for a in s))
        rows = x.shape[0] * num_samples
        size = x.shape[2] // 2**self.depth, x.shape[3] // 2**self.depth
        h = self.h_top.view(1, -1, 1, 1).expand(rows, -1, *size)
        kls = [None] * len(self.layers)
        for i in reversed(range(len(self.layers))):
            h, kls[i] = self.layers[i].down(h, stats[i])
        mean = self.x_dec(F.elu(h))
        xs = x.repeat(num_samples, 1, 1, 1)
        log_px = discretized_logistic_log_prob(xs, mean, self.log_scale, self.levels)
        return log_px.flatten(1).sum(1), kls

    def loss(self, x):
        log_px, kls = self(x)
        kl_obj = sum(
            kl.sum((2, 3)).mean(0).clamp(min=self.kl_min).sum()
            if self.kl_min > 0
            else kl.sum((1, 2, 3)).mean()
            for kl in kls
        )
        return (-log_px.mean() + kl_obj) / x[0].numel()

    def log_weights(self, x, num_samples):
        log_px, kls = self(x, num_samples)
        return (log_px - sum(kl.flatten(1).sum(1) for kl in kls)).view(num_samples, -1)


class MaskedLinear(nn.Linear):
    def __init__(self, mask):  # mask [fan_in, fan_out]
        super().__init__(*mask.shape)
        self.register_buffer('mask_t', torch.from_numpy(np.ascontiguousarray(mask.T)))

    def forward(self, x):
        return F.linear(x, self.weight * self.mask_t, self.bias)


class IAFStep(nn.Module):
    """models/vae/iaf.py's step: MADE with cyclic hidden degrees, the context added after the
    first hidden layer, the gated update z' = s z + (1 - s) m."""

    def __init__(self, dims, hidden, context, reverse):
        super().__init__()
        order = np.arange(dims)[::-1].copy() if reverse else np.arange(dims)
        degrees = input_degrees(order)
        masks = connectivity_masks(
            degrees, cyclic_hidden_degrees(hidden, dims), np.concatenate([degrees, degrees])
        )
        self.layers = nn.ModuleList(MaskedLinear(m) for m in masks)
        self.context = nn.Linear(context, hidden[0], bias=False)

    def forward(self, z, h):
        a = z
        for i, layer in enumerate(self.layers[:-1]):
            a = layer(a) + (self.context(h) if i == 0 else 0)
            a = F.elu(a)
        m, g = self.layers[-1](a).chunk(2, dim=-1)
        s = torch.sigmoid(g + 1.0)
        return s * z + (1 - s) * m, torch.log(s)


def mlp(sizes):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class IAFVAE(nn.Module):
    def __init__(self, data_dims, latent, enc, dec, steps, iaf_hidden, context):
        super().__init__()
        self.latent = latent
        self.encoder = mlp([data_dims, *enc, 2 * latent + context])
        self.decoder = mlp([latent, *dec, data_dims])
        self.flow = nn.ModuleList(
            IAFStep(latent, list(iaf_hidden), context, i % 2) for i in range(steps)
        )

    def log_weights(self, x, num_samples):
        """x [B, D] in {0, 1} -> [n, B] log p(x, z) - log q(z | x), one encoder pass."""
        out = self.encoder(2 * x - 1)
        z_dims = self.latent
        mean, log_scale, h = out.split([z_dims, z_dims, out.shape[1] - 2 * z_dims], 1)
        eps = torch.randn(num_samples, *mean.shape)
        z = (mean + torch.exp(log_scale) * eps).flatten(0, 1)
        log_q = (-0.5 * eps**2 - log_scale - HALF_LOG_2PI).flatten(0, 1)
        hs = h.repeat(num_samples, 1)
        for step in self.flow:
            z, log_s = step(z, hs)
            log_q = log_q - log_s
        log_p = -0.5 * z**2 - HALF_LOG_2PI
        logits = self.decoder(z)
        xs = x.repeat(num_samples, 1)
        log_px = -F.binary_cross_entropy_with_logits(logits, xs, reduction='none').sum(1)
        return (log_px + (log_p - log_q).sum(1)).view(num_samples, -1)

    def loss(self, x):
        return -self.log_weights(x, 1).mean() / x.shape[1]


class TrainStep:
    """One Adamax step and EMA of `model` on a fixed batch per call; returns the loss."""

    def __init__(self, model, batch, lr=2e-3, ema=0.999):
        self.model, self.batch = model, batch
        self.opt = torch.optim.Adamax(model.parameters(), lr=lr)
        self.ema = [p.detach().clone() for p in model.parameters()]
        self.decay = ema

    def __call__(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.model.loss(self.batch())
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(self.ema, list(self.model.parameters()), 1 - self.decay)
        return float(loss.detach())


def importance_weighted(model, x, k, chunk):
    """log (1/k) sum_i w_i per example, chunk by chunk, without gradients."""
    with torch.no_grad():
        w = torch.cat([model.log_weights(x, chunk) for _ in range(k // chunk)], 0)
        return torch.logsumexp(w, 0) - math.log(w.shape[0])
