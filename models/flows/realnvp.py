"""RealNVP: Density estimation using Real NVP (Dinh, Sohl-Dickstein, Bengio 2016,
arXiv:1605.08803).

The multi-scale architecture (section 3.6): at each scale but the last, 3 affine couplings with
alternating checkerboard masks, a squeeze, 3 couplings with alternating channel masks, then half
of the channels are factored out and the rest go through the next scale; the last scale is 4
checkerboard couplings. s and t come from one ResNet (weight-normalised, data-dependent init),
s = scale * tanh(.), and a normalisation layer follows each coupling (batch norm as in the paper,
or actnorm). Data are dequantised uniformly and logit-transformed with alpha = 0.05 (section
4.1). L2 weight decay is the optimizer's `weight_decay` (config.optim.model).

Vector data (the 2-D densities) use couplings with alternating masks and MLP networks.
"""

from __future__ import annotations

import functools

from models.core.family import Family
from models.flows import nets
from models.flows.actnorm import ActNorm
from models.flows.batchnorm import BatchNorm
from models.flows.bijector import Bijector, Chain
from models.flows.coupling import Affine, Coupling
from models.flows.density import make_flow_family
from models.flows.logit import Logit
from models.flows.squeeze import FactorOut, Squeeze, Unsqueeze

NORMS = ('batchnorm', 'actnorm', 'none')


def _norm(norm: str) -> list[Bijector]:
    if norm == 'batchnorm':
        return [BatchNorm()]
    if norm == 'actnorm':
        return [ActNorm()]
    return []


def _couplings(mask: str, count: int, make_net, norm: str) -> list[Bijector]:
    layers = []
    for i in range(count):
        layers += [Coupling(mask, i % 2, Affine(), make_net), *_norm(norm)]
    return layers


def multiscale(scales: int, make_net, norm: str) -> Bijector:
    """Scale 0 of `scales`, with the later ones nested inside its factor-out; shape-preserving."""
    if scales == 1:
        return Chain(_couplings('checkerboard', 4, make_net, norm))
    return Chain(
        [
            *_couplings('checkerboard', 3, make_net, norm),
            Squeeze(),
            *_couplings('channel', 3, make_net, norm),
            FactorOut(multiscale(scales - 1, make_net, norm)),
            Unsqueeze(),
        ]
    )


def build(
    data_spec,
    scales: int = 2,
    features: int = 64,
    blocks: int = 8,
    norm: str = 'batchnorm',
    logit_alpha: float = 0.05,
    couplings: int = 6,
) -> Bijector:
    """The flow from data space (levels / K for images) to the latent."""
    if norm not in NORMS:
        raise ValueError(f'realnvp: norm {norm!r}; valid: {list(NORMS)}')
    if scales < 1 or blocks < 0 or features < 1:
        raise ValueError('realnvp: scales and features must be >= 1, blocks >= 0')
    if len(data_spec.shape) == 1:
        make_net = functools.partial(nets.MLP, features=features, layers=max(blocks, 1))
        return Chain(_couplings('alternate', couplings, make_net, norm))
    h, w = data_spec.shape[:2]
    squeezes = scales - 1
    if h % 2**squeezes or w % 2**squeezes or min(h, w) < 2 ** (squeezes + 1):
        raise ValueError(
            f'realnvp: scales={scales} squeezes {squeezes} times, so the image size {(h, w)} must '
            f'be divisible by 2 ** {squeezes} and leave at least 2x2 for the last scale; use '
            'fewer scales'
        )
    make_net = functools.partial(nets.ResNet, features=features, blocks=blocks)
    flow = multiscale(scales, make_net, norm)
    if data_spec.num_levels is not None:
        flow = Chain([Logit(logit_alpha), flow])
    return flow


def make(
    data_spec,
    scales: int = 2,
    features: int = 64,
    blocks: int = 8,
    norm: str = 'batchnorm',
    logit_alpha: float = 0.05,
    couplings: int = 6,
    temperature: float = 1.0,
) -> Family:
    """scales: levels of the multi-scale architecture (images); couplings: for vector data."""
    flow = build(data_spec, scales, features, blocks, norm, logit_alpha, couplings)
    return make_flow_family(data_spec, flow, name='flows.realnvp', temperature=temperature)
