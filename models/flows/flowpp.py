"""Flow++: Improving Flow-Based Generative Models with Variational Dequantization and Architecture
Design (Ho, Chen, Srinivas, Duan, Abbeel 2019, arXiv:1902.00275).

The three changes of the paper, each in its own module:
- variational dequantisation (section 3.1, dequant.py): u ~ q(u | x) by a conditional flow of
  mixture-CDF couplings whose networks see features of x, trained jointly with the model;
- logistic-mixture CDF couplings (section 3.2, mixture_cdf.py), inverse by bisection;
- coupling networks of gated residual convolutions and multi-head self-attention with weight
  norm, data-dependent init and dropout (section 3.3, nets.GatedAttnNet).
Each flow step is actnorm, an invertible 1x1 convolution and a coupling, as in the official code.

`stages` describes the main flow: ('checkerboard', n) or ('channel', n) adds n steps with that
mask (alternating parity), ('squeeze',) a squeeze; the flow ends with as many unsqueezes, so the
latent has the data's shape. The CIFAR-10 default is 4 checkerboard steps at 32x32x3, a squeeze,
2 channel steps and 3 checkerboard steps at 16x16x12. EMA, warm-up and clipping are optimizer
settings of the config.
"""

from __future__ import annotations

import functools

from models.core.family import Family
from models.flows import nets
from models.flows.actnorm import ActNorm
from models.flows.bijector import Bijector, Chain
from models.flows.conv1x1 import Conv1x1
from models.flows.coupling import Coupling, MixtureCDF
from models.flows.density import make_flow_family
from models.flows.dequant import Variational
from models.flows.logit import Logit
from models.flows.squeeze import Squeeze, Unsqueeze

CIFAR_STAGES = (('checkerboard', 4), ('squeeze',), ('channel', 2), ('checkerboard', 3))


def steps(mask: str, count: int, components: int, make_net) -> list[Bijector]:
    layers = []
    for i in range(count):
        layers += [ActNorm(), Conv1x1(), Coupling(mask, i % 2, MixtureCDF(components), make_net)]
    return layers


def main_flow(stages, components: int, make_net) -> Bijector:
    layers, squeezes = [], 0
    for stage in stages:
        stage = tuple(stage)
        if stage[0] == 'squeeze' and len(stage) == 1:
            layers.append(Squeeze())
            squeezes += 1
        elif stage[0] in ('checkerboard', 'channel') and len(stage) == 2 and stage[1] >= 1:
            layers += steps(stage[0], int(stage[1]), components, make_net)
        else:
            raise ValueError(
                f"flowpp: stage {stage!r}; expected ('checkerboard', n), ('channel', n) or "
                "('squeeze',)"
            )
    return Chain(layers + [Unsqueeze() for _ in range(squeezes)])


def build(
    data_spec,
    stages=CIFAR_STAGES,
    features: int = 96,
    blocks: int = 10,
    heads: int = 4,
    components: int = 32,
    dropout: float = 0.2,
    attention: bool = True,
    dequant_steps: int = 4,
    dequant_features: int = 96,
    dequant_blocks: int = 2,
    dequant_components: int = 32,
    logit_alpha: float = 0.05,
    couplings: int = 6,
) -> tuple[Bijector, Variational | None]:
    """(the main flow, the variational dequantiser or None for continuous data)."""
    if features % heads:
        raise ValueError(f'flowpp: features ({features}) must be divisible by heads ({heads})')
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f'flowpp: dropout must be in [0, 1), got {dropout}')
    if len(data_spec.shape) == 1:
        make_net = functools.partial(
            nets.MLP, features=features, layers=max(blocks, 1), dropout=dropout
        )
        return Chain(steps('alternate', couplings, components, make_net)), None

    def attn_net(features, blocks, **kw):
        return functools.partial(
            nets.GatedAttnNet,
            features=features,
            blocks=blocks,
            heads=heads,
            dropout=dropout,
            attention=attention,
            **kw,
        )

    flow = main_flow(stages, components, attn_net(features, blocks))
    if data_spec.num_levels is None:
        return flow, None
    embed = attn_net(dequant_features, dequant_blocks, zero_out=False)(dequant_features)
    # Checkerboard only: it works for any channel count (CIFAR has 3).
    dequant_net = attn_net(dequant_features, dequant_blocks)
    q_flow = Chain(steps('checkerboard', dequant_steps, dequant_components, dequant_net))
    return Chain([Logit(logit_alpha), flow]), Variational(q_flow, embed)


def make(
    data_spec,
    stages=CIFAR_STAGES,
    features: int = 96,
    blocks: int = 10,
    heads: int = 4,
    components: int = 32,
    dropout: float = 0.2,
    attention: bool = True,
    dequant_steps: int = 4,
    dequant_features: int = 96,
    dequant_blocks: int = 2,
    dequant_components: int = 32,
    logit_alpha: float = 0.05,
    couplings: int = 6,
    temperature: float = 1.0,
) -> Family:
    """couplings: the number of steps for vector data (the 2-D densities), which use MLPs."""
    flow, dequantizer = build(
        data_spec,
        stages,
        features,
        blocks,
        heads,
        components,
        dropout,
        attention,
        dequant_steps,
        dequant_features,
        dequant_blocks,
        dequant_components,
        logit_alpha,
        couplings,
    )
    return make_flow_family(
        data_spec, flow, name='flows.flowpp', dequantizer=dequantizer, temperature=temperature
    )
