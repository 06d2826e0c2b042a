"""One Family for every autoregressive image model: likelihood, per-sub-pixel conditionals, and
naive or cached sampling with identical per-sub-pixel randomness.

A model module supplies a network `forward(ctx, x, labels) -> [B, H, W, P]` (see `layers.py`), an
output head (a softmax, or the discretised logistic mixture) and, optionally, a cached generator
(see `cached.py`). Images are integer levels [B, H, W, C]; the network sees them scaled to [-1, 1].
The order is raster order over pixels and channel order (R -> G -> B) within a pixel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from models.autoregressive.layers import ApplyCtx, effective_params, init_params
from models.autoregressive.logistic_mixture import to_unit
from models.core.family import Family
from models.core.inputs import BadInputError, check_batch
from models.core.metrics import bits_per_dim


class CategoricalHead:
    """A softmax over `num_levels` values per sub-pixel (PixelCNN, Gated PixelCNN)."""

    def __init__(self, channels: int, num_levels: int):
        self.channels = channels
        self.num_levels = num_levels
        self.num_outputs = channels * num_levels

    def conditionals(self, out: jax.Array, levels: jax.Array) -> jax.Array:
        del levels  # the network itself conditions each channel on the pixel's earlier ones
        logits = out.reshape(*out.shape[:-1], self.channels, self.num_levels)
        return jax.nn.log_softmax(logits, axis=-1)

    def conditional(self, out: jax.Array, levels: jax.Array, c: int) -> jax.Array:
        """Channel c alone: [..., K]."""
        start = c * self.num_levels
        return jax.nn.log_softmax(out[..., start : start + self.num_levels], axis=-1)

    def pixel_log_prob(self, out: jax.Array, levels: jax.Array) -> jax.Array:
        logp = self.conditionals(out, levels)  # [..., C, K]
        picked = jnp.take_along_axis(logp, levels[..., None].astype(jnp.int32), axis=-1)
        return picked[..., 0].sum(axis=-1)


class ImageAutoregressive(NamedTuple):
    """The trainer's Family plus what a coder or a benchmark needs beyond it."""

    family: Family
    # (params, batch) -> [B, H, W, C, K] log p(x_c = k | everything before it), raster order.
    conditionals: Callable[..., jax.Array]
    sample_naive: Callable[..., jax.Array]  # (params, rng, num) -> [num, H, W, C] levels
    sample_cached: Callable[..., jax.Array] | None
    forward: Callable[..., jax.Array]  # the network: (ctx, x in [-1, 1], labels) -> [B, H, W, P]
    # Whether the network's output at a pixel reads that pixel's earlier channels, so that naive
    # sampling runs it once per sub-pixel rather than once per pixel.
    sees_own_pixel: bool


def subpixel_key(rng: jax.Array, i, j, c: int, width: int, channels: int) -> jax.Array:
    """The key of sub-pixel (i, j, c): one derivation for every sampler."""
    return jax.random.fold_in(rng, (i * width + j) * channels + c)


def sample_level(log_probs: jax.Array, key: jax.Array) -> jax.Array:
    """Inverse-CDF draw from [B, K] log-probabilities with one uniform per row -> [B] int32."""
    u = jax.random.uniform(key, log_probs.shape[:1])
    cdf = jnp.cumsum(jnp.exp(log_probs), axis=-1)
    return jnp.sum(cdf[:, :-1] < u[:, None], axis=-1).astype(jnp.int32)


def build(
    data_spec,
    forward: Callable,
    head: Any,
    *,
    weight_norm: bool = False,
    sees_own_pixel: bool = True,
    cached: Any = None,
    class_conditional: bool = False,
    name: str = 'autoregressive',
) -> ImageAutoregressive:
    """`sees_own_pixel`: the network's output at a pixel depends on that pixel's earlier channels
    (channel-masked PixelCNNs), so sampling reruns it per sub-pixel; PixelCNN++ conditions on
    whole earlier pixels and couples the channels in its head instead."""
    if data_spec.num_levels is None or data_spec.key != 'image' or len(data_spec.shape) != 3:
        raise ValueError(
            f'{name} models images of integer levels [H, W, C]; dataset {data_spec.name!r} has '
            f'field {data_spec.key!r} of shape {data_spec.shape} and levels {data_spec.num_levels}'
        )
    if class_conditional and not data_spec.num_classes:
        raise ValueError(
            f'{name}: class_conditional needs a labelled dataset, not {data_spec.name!r}'
        )
    height, width, channels = data_spec.shape
    levels = int(data_spec.num_levels)
    num_dims = height * width * channels
    num_classes = data_spec.num_classes if class_conditional else None

    def labels_of(batch):
        return batch['label'].astype(jnp.int32) if class_conditional else None

    def check(batch, where):
        """Host-side check of concrete inputs; traced ones (inside the trainer's jit) were
        checked by the trainer before compiling."""
        x = batch.get(data_spec.key) if isinstance(batch, dict) else None
        if x is None:
            raise BadInputError(f'{where}: batch needs the field {data_spec.key!r}')
        if isinstance(x, jax.core.Tracer):
            return
        check_batch({data_spec.key: np.asarray(x)}, data_spec, where)
        if class_conditional:
            labels = np.asarray(batch.get('label', np.zeros(0)))
            if labels.shape != (x.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
                raise BadInputError(f'{where}: needs integer labels of shape ({x.shape[0]},)')
            if labels.min() < 0 or labels.max() >= num_classes:
                raise BadInputError(f'{where}: labels outside [0, {num_classes - 1}]')

    def network_out(params, batch, rng=None, train=False):
        x = batch[data_spec.key]
        ctx = ApplyCtx(params['model'], rng, train)
        return forward(ctx, to_unit(x, levels), labels_of(batch)), x.astype(jnp.int32)

    def init(rng, batch):
        x = to_unit(batch[data_spec.key], levels)
        return {'model': init_params(forward, rng, weight_norm, x, labels_of(batch))}

    @jax.jit
    def compiled_log_prob(params, batch):
        out, x = network_out(params, batch)
        return head.pixel_log_prob(out, x).sum(axis=(1, 2))

    @jax.jit
    def compiled_conditionals(params, batch):
        out, x = network_out(params, batch)
        return head.conditionals(out, x)

    # Checked on the host first (a clear error, never a compile), then one compiled call.
    def log_prob(params, batch):
        check(batch, f'{name}.log_prob')
        return compiled_log_prob(params, batch)

    def conditionals(params, batch):
        check(batch, f'{name}.conditionals')
        return compiled_conditionals(params, batch)

    def loss(params, batch, rng):
        out, x = network_out(params, batch, rng, train=True)
        nll = -head.pixel_log_prob(out, x).sum(axis=(1, 2)).mean()
        # Per-dimension nats, so the learning rate does not depend on the image size.
        return {'model': nll / num_dims}, {'bpd/total': bits_per_dim(nll, num_dims)}

    def sample_labels(num):
        return jnp.arange(num) % num_classes if class_conditional else None

    def sample_pixel(state, out_fn, rng, i, j, num):
        """Draws pixel (i, j) channel by channel; out_fn(state, pixel) -> (state, head input)."""
        pixel = jnp.zeros((num, channels), jnp.int32)
        out = None
        for c in range(channels):
            if out is None or sees_own_pixel:
                state, out = out_fn(state, pixel)
            logp = head.conditional(out, pixel, c)  # [num, K]
            value = sample_level(logp, subpixel_key(rng, i, j, c, width, channels))
            pixel = pixel.at[:, c].set(value)
        return state, pixel

    def sample_naive(params, rng, num):
        labels = sample_labels(num)

        def body(t, x):
            i, j = t // width, t % width

            def out_fn(image, pixel):
                image = jax.lax.dynamic_update_slice(image, pixel[:, None, None, :], (0, i, j, 0))
                out = forward(ApplyCtx(params['model']), to_unit(image, levels), labels)
                return image, jax.lax.dynamic_index_in_dim(
                    jax.lax.dynamic_index_in_dim(out, i, 1, False), j, 1, False
                )

            _, pixel = sample_pixel(x, out_fn, rng, i, j, num)
            return jax.lax.dynamic_update_slice(x, pixel[:, None, None, :], (0, i, j, 0))

        x0 = jnp.zeros((num, height, width, channels), jnp.int32)
        return jax.lax.fori_loop(0, height * width, body, x0)

    def sample_cached(params, rng, num):
        labels = sample_labels(num)
        one = jnp.zeros((1, height, width, channels), jnp.float32)
        p = effective_params(forward, params['model'], one, None if labels is None else labels[:1])
        cache = cached.start(p, labels, jnp.zeros((num, channels), jnp.float32))

        def row_body(i, carry):
            x, cache = carry
            prev = to_unit(jax.lax.dynamic_index_in_dim(x, jnp.maximum(i - 1, 0), 1, False), levels)
            cache = cached.row(p, cache, labels, i, prev)

            def col_body(j, carry):
                x, cache = carry

                def out_fn(cache, pixel):
                    return cached.pixel(p, cache, labels, i, j, to_unit(pixel, levels))

                cache, pixel = sample_pixel(cache, out_fn, rng, i, j, num)
                # The finished pixel goes into the buffers that later pixels read.
                cache = cached.commit(p, cache, labels, i, j, to_unit(pixel, levels))
                x = jax.lax.dynamic_update_slice(x, pixel[:, None, None, :], (0, i, j, 0))
                return x, cache

            return jax.lax.fori_loop(0, width, col_body, (x, cache))

        x0 = jnp.zeros((num, height, width, channels), jnp.int32)
        x, _ = jax.lax.fori_loop(0, height, row_body, (x0, cache))
        return x

    family = Family(
        init=init,
        loss=loss,
        sample=sample_cached if cached is not None else sample_naive,
        log_prob=log_prob,
    )
    return ImageAutoregressive(
        family,
        conditionals,
        sample_naive,
        sample_cached if cached is not None else None,
        forward,
        sees_own_pixel,
    )
