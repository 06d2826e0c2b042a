"""The one bijector interface every flow layer implements, and the chain that composes them.

A bijector maps x -> y elementwise-invertibly with a per-example log|det dy/dx|. Forward,
inverse and log-determinant live in one class so that a test can loop over every layer:

    init(rng, x, ctx)                      -> (params, state, y)  data-dependent init on a batch
    forward(params, state, x, ctx)         -> (y, logdet [B], new_state)
    forward_layers(params, state, x, ctx)  -> (y, (logdet [B], ...), new_state)  one per layer
    inverse(params, state, y, ctx)         -> x

`params` are trained; `state` holds non-trainable variables (batch-norm running statistics,
a fixed permutation). Both are plain dicts: the family keeps the state in the trainer's loop state
(models/core/family.py), beside the params, never inside them. `ctx` carries what some layers need:
whether we are training (dropout, batch statistics), an RNG for dropout, and conditioning
features for conditional flows (Flow++'s dequantiser q(u|x)).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

PyTree = Any


class Ctx(NamedTuple):
    train: bool = False
    rng: jax.Array | None = None  # dropout; None disables it
    cond: jax.Array | None = None  # [B, ..., Cc] features the coupling networks also see

    def fold(self, index: int) -> Ctx:
        """The context for sub-layer `index`: its own dropout stream."""
        if self.rng is None:
            return self
        return self._replace(rng=jax.random.fold_in(self.rng, index))


EVAL = Ctx()


def sum_except_batch(x: jax.Array) -> jax.Array:
    return jnp.sum(x.reshape(x.shape[0], -1), axis=1)


class Bijector:
    """Base class; subclasses implement init / forward / inverse. Stateless layers return {}.

    An elementary layer is one layer of `forward_layers`; composites (`Composite`) list the
    log-determinants of the elementary layers inside them instead.
    """

    def init(self, rng: jax.Array, x: jax.Array, ctx: Ctx = EVAL) -> tuple[PyTree, PyTree, Any]:
        del rng
        y, _, _ = self.forward({}, {}, x, ctx)
        return {}, {}, y

    def forward(self, params, state, x, ctx: Ctx = EVAL):
        # Abstract: every concrete layer defines both directions (the tests loop over them all).
        raise NotImplementedError(f'{type(self).__name__} does not define forward()')

    def inverse(self, params, state, y, ctx: Ctx = EVAL):
        raise NotImplementedError(f'{type(self).__name__} does not define inverse()')

    def forward_layers(self, params, state, x, ctx: Ctx = EVAL):
        """forward() with its log-determinant per elementary layer, in the order applied."""
        y, logdet, new_state = self.forward(params, state, x, ctx)
        return y, (logdet,), new_state

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-example output shape; only squeezes change it."""
        return shape

    def check(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Raises ValueError (at make() time) if the layer cannot be invertible on `shape`;
        returns the output shape."""
        return self.output_shape(shape)


def _key(i: int) -> str:
    return f'{i:02d}'


def total_logdet(logdets: tuple[jax.Array, ...], x: jax.Array) -> jax.Array:
    total = jnp.zeros(x.shape[0], x.dtype)
    for logdet in logdets:
        total = total + logdet
    return total


class Composite(Bijector):
    """A bijector made of others: forward_layers is the one implementation, forward its sum."""

    def forward(self, params, state, x, ctx=EVAL):
        y, logdets, new_state = self.forward_layers(params, state, x, ctx)
        return y, total_logdet(logdets, x), new_state


class Chain(Composite):
    """Composition in order: forward applies layers[0] first; inverse runs them backwards.
    Nested chains are flattened in forward_layers, so a flow's layer list does not depend on how
    it was grouped when built."""

    def __init__(self, layers: list[Bijector]):
        self.layers = list(layers)

    def init(self, rng, x, ctx=EVAL):
        params, state = {}, {}
        for i, layer in enumerate(self.layers):
            p, s, x = layer.init(jax.random.fold_in(rng, i), x, ctx.fold(i))
            params[_key(i)], state[_key(i)] = p, s
        return params, state, x

    def forward_layers(self, params, state, x, ctx=EVAL):
        logdets, new_state = [], {}
        for i, layer in enumerate(self.layers):
            # A flow without any state stores none: `state` may be {} for the whole chain.
            x, layer_logdets, new_state[_key(i)] = layer.forward_layers(
                params[_key(i)], state.get(_key(i), {}), x, ctx.fold(i)
            )
            logdets.extend(layer_logdets)
        return x, tuple(logdets), new_state

    def inverse(self, params, state, y, ctx=EVAL):
        for i in reversed(range(len(self.layers))):
            y = self.layers[i].inverse(params[_key(i)], state.get(_key(i), {}), y, ctx.fold(i))
        return y

    def output_shape(self, shape):
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def check(self, shape):
        for layer in self.layers:
            shape = layer.check(shape)
        return shape
