"""NICE: Non-linear Independent Components Estimation (Dinh, Krueger, Bengio 2014,
arXiv:1410.8516).

The data are a vector (images are flattened); additive couplings on alternating halves of the
dimensions, each with an MLP of rectified units, then a diagonal scaling layer (here actnorm,
which is that layer with a data-dependent start); a logistic prior (the paper's choice for MNIST,
SVHN and CIFAR-10). Images are dequantised with uniform noise into [0, 1) as in the paper, and the
latent is reshaped back to the image's shape.
"""

from __future__ import annotations

import functools

from models.core.family import Family
from models.flows import nets
from models.flows.actnorm import ActNorm
from models.flows.bijector import Chain
from models.flows.coupling import Additive, Coupling
from models.flows.density import make_flow_family
from models.flows.squeeze import Flatten, Unflatten


def build(data_spec, couplings: int = 4, features: int = 1000, layers: int = 5) -> Chain:
    if couplings < 1 or layers < 1 or features < 1:
        raise ValueError('nice: couplings, layers and features must be >= 1')
    make_net = functools.partial(nets.MLP, features=features, layers=layers)
    steps = [Coupling('alternate', i % 2, Additive(), make_net) for i in range(couplings)]
    if len(data_spec.shape) == 1:
        return Chain([*steps, ActNorm()])
    # The latent gets the image's shape back (a reshape: log N(z) does not change).
    return Chain([Flatten(data_spec.shape), *steps, ActNorm(), Unflatten(data_spec.shape)])


def make(
    data_spec,
    couplings: int = 4,
    features: int = 1000,
    layers: int = 5,
    prior: str = 'logistic',
    temperature: float = 1.0,
) -> Family:
    flow = build(data_spec, couplings, features, layers)
    return make_flow_family(
        data_spec, flow, name='flows.nice', prior=prior, temperature=temperature
    )
