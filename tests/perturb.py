"""Random non-zero parameters for structural tests (causality, invertibility, sampler equality),
so that no dependence hides behind a zero or symmetric init.

The noise is drawn on the host: a `jax.random.normal` per leaf compiles a threefry kernel per
leaf shape, about a second of XLA time each, which once made up most of these tests' run time.
"""

import jax
import numpy as np


def perturbed(params, scale: float, seed: int = 7):
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda x: x + scale * rng.standard_normal(np.shape(x), np.float32), params)
