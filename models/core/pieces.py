"""Typed pieces of the likelihood families, for consumers other than the trainer (coders).

A family puts one of these on `Family.pieces`. A consumer (an entropy coder, a completion or
anomaly-scoring tool) programs against the Protocol and never against a family's module, so a
forked model is codable as soon as its pieces are. Shapes below: B a batch, `event` the data shape
of one example (e.g. H, W, C), K the number of levels of a discrete variable. Units are nats.

Autoregressive (PixelCNN, Gated PixelCNN, PixelCNN++, MADE, NADE):
    conditionals(variables, batch) -> [B, *event, K] log-probabilities (normalised over K) of each
        variable given every earlier one in generation order, teacher-forced on the batch's data.
    decode(variables, choose, carry, num, batch=None) -> (x [num, *event] int32, carry): one pass
        in generation order; at each variable it computes that variable's [num, K] log-probs from
        what was chosen so far and calls `choose(carry, log_probs, index) -> (symbols [num] int32,
        carry)` (`index` is the int32 position in generation order). Sampling plugs in a draw
        from the log-probs with carry = a key; an ANS decoder plugs in a pop from its stack with
        carry = the coder state. `batch` carries conditioning only (e.g. class labels).
        Contract: decode's log-probs are a function of the symbols chosen so far alone, so
        running decode with a `choose` that returns given data reproduces them bit for bit, and
        a coder encodes and decodes through this one scan. They equal the matching slices of
        `conditionals` up to float rounding (XLA sums a matrix product in an order that depends
        on its shapes, and the cached scan multiplies smaller operands than the full pass).
    order: [prod(event)] flat indices of the variables in generation order.

Bijective (NICE, RealNVP, Flow++): data x in integer levels, y = dequantised continuous data,
    z = latent.
    dequantize(variables, batch, rng) -> (y [B, *event], log_q [B]): y drawn from the
        dequantiser q(y | x) (uniform or variational), log_q its log-density, so that
        log p(x) >= log p_flow(y) - log_q (the family's `log_prob` is this bound).
    quantize(y) -> x [B, *event] int32: the levels whose bins hold y (inverse of dequantize's
        support).
    forward(variables, y) -> (z [B, *event], logdets: tuple of [B]): per-layer log|det dz/dy|
        in layer order; sum(logdets) + prior_log_prob(z) = log p_flow(y).
    inverse(variables, z) -> y.
    prior_log_prob(z) -> [B];  prior_sample(rng, num) -> z [num, *event].

LatentVariable (VAEs, the Bit-Swap hierarchy; layers z_1 ... z_L, z_1 nearest the data):
    latent_shapes: tuple of per-example shapes of z_1 ... z_L.
    prior(variables, layer, above) -> Distribution of z_layer given z_{layer+1} (`above`, None
        for the top layer L).
    posterior(variables, layer, below) -> Distribution of z_layer given z_{layer-1} (the data x
        for layer 1): the Markov inference chain Bit-Swap codes with.
    likelihood(variables, z1) -> Distribution of x given z_1.
    Distribution: log_prob(value) -> [B, ...] per element; sample(rng) -> value; for a
    continuous one, cdf(value) and icdf(u) per element, so a coder can bucket it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import jax

Array = Any
Choose = Callable[[Any, Array, Array], tuple[Array, Any]]


@runtime_checkable
class Autoregressive(Protocol):
    event_shape: tuple[int, ...]
    num_levels: int
    order: Array

    def conditionals(self, variables: Any, batch: dict[str, Array]) -> Array: ...

    def decode(
        self,
        variables: Any,
        choose: Choose,
        carry: Any,
        num: int,
        batch: dict[str, Array] | None = None,
    ) -> tuple[Array, Any]: ...


@runtime_checkable
class Bijective(Protocol):
    event_shape: tuple[int, ...]
    num_levels: int | None

    def dequantize(
        self, variables: Any, batch: dict[str, Array], rng: Any
    ) -> tuple[Array, Array]: ...

    def quantize(self, y: Array) -> Array: ...

    def forward(self, variables: Any, y: Array) -> tuple[Array, tuple[Array, ...]]: ...

    def inverse(self, variables: Any, z: Array) -> Array: ...

    def prior_log_prob(self, z: Array) -> Array: ...

    def prior_sample(self, rng: Any, num: int) -> Array: ...


@runtime_checkable
class Distribution(Protocol):
    def log_prob(self, value: Array) -> Array: ...

    def sample(self, rng: Any) -> Array: ...


@runtime_checkable
class LatentVariable(Protocol):
    latent_shapes: tuple[tuple[int, ...], ...]

    def prior(self, variables: Any, layer: int, above: Array | None) -> Distribution: ...

    def posterior(self, variables: Any, layer: int, below: Array) -> Distribution: ...

    def likelihood(self, variables: Any, z1: Array) -> Distribution: ...


def sample_choose(carry: Any, log_probs: Array, index: Array) -> tuple[Array, Any]:
    """The `choose` of sampling: carry is a key; one categorical draw per row."""
    del index
    rng, draw = jax.random.split(carry)
    return jax.random.categorical(draw, log_probs, axis=-1).astype('int32'), rng
