"""The typed pieces every autoregressive family here exposes (`models.core.pieces.Autoregressive`)
and the sampling `choose` their samplers plug into the decode scan.

A family's sampler is its decode scan with `draw` plugged in; a coder plugs in its own `choose`
(pop a symbol from an ANS stack) into the same scan, so there is one per-variable loop per family.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from models.core.family import Variables, as_variables


@dataclasses.dataclass(frozen=True, eq=False)
class Pieces:
    """`models.core.pieces.Autoregressive` as plain fields (shapes and units documented there)."""

    event_shape: tuple[int, ...]
    num_levels: int
    order: np.ndarray  # [prod(event_shape)] flat indices in generation order
    # (variables, batch) -> [B, *event_shape, num_levels] normalised log-probs, teacher-forced
    conditionals: Callable[..., jax.Array]
    # (variables, choose, carry, num, batch=None) -> (x [num, *event_shape] int32, carry)
    decode: Callable[..., tuple[jax.Array, Any]]


def draw(carry: jax.Array, log_probs: jax.Array, index: jax.Array) -> tuple[jax.Array, Any]:
    """The sampling `choose`: carry is a key, left unchanged. Variable `index` is drawn by inverse
    CDF from one uniform of key fold_in(carry, index), so a draw depends only on the key, the
    index and the log-probs: two decoders that compute the same log-probs (cached and naive)
    draw the same samples, and one uniform per row is cheaper than K Gumbels."""
    u = jax.random.uniform(jax.random.fold_in(carry, index), log_probs.shape[:1])
    cdf = jnp.cumsum(jnp.exp(log_probs), axis=-1)
    return jnp.sum(cdf[:, :-1] < u[:, None], axis=-1).astype(jnp.int32), carry


def model_params(variables: Any) -> Any:
    """The single player's parameters. Accepts what `init` returns as well as `Variables`."""
    return as_variables(variables).params['model']


def unchanged_state(variables: Any) -> Any:
    """A stateless family's loss returns the loop state it was given."""
    return variables.state if isinstance(variables, Variables) else {}
