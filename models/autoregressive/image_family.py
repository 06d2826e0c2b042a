"""One Family for every autoregressive image model: likelihood, the typed `Autoregressive` pieces
(teacher-forced conditionals and a decode scan with a pluggable choose), and sampling as that scan
with a draw plugged in.

A model module supplies a network `forward(ctx, x, labels) -> [B, H, W, P]` (see `layers.py`), an
output head (a softmax, or the discretised logistic mixture) and, optionally, a cached generator
(see `cached.py`). Images are integer levels [B, H, W, C]; the network sees them scaled to [-1, 1].
The order is raster order over pixels and channel order (R -> G -> B) within a pixel: sub-pixel
(i, j, c) is variable (i W + j) C + c.

The decode scan runs a generator (`start`, `row`, `pixel`, `commit`; see `cached.py`) row by row
and pixel by pixel; the cached generators do one pixel's work per pixel, `NaiveGenerator` reruns
the whole network (the reference the cached ones are tested against).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from models.autoregressive.decoding import Pieces, draw, model_params, unchanged_state
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


class NaiveGenerator:
    """The generator without a cache: the whole network over the image so far at every call. The
    cache is the image itself (in [-1, 1]); what is not drawn yet is read only through masked
    weights, so its value does not matter."""

    def __init__(self, forward, image_hw: tuple[int, int]):
        self.forward = forward
        self.image_hw = image_hw

    def start(self, params, labels, x_pixel):
        return jnp.zeros((x_pixel.shape[0], *self.image_hw, x_pixel.shape[-1]), x_pixel.dtype)

    def row(self, params, cache, labels, i, prev_row):
        return cache

    def pixel(self, params, cache, labels, i, j, x_pixel):
        image = self.commit(params, cache, labels, i, j, x_pixel)
        out = self.forward(ApplyCtx(params), image, labels)
        at_row = jax.lax.dynamic_index_in_dim(out, i, 1, False)
        return image, jax.lax.dynamic_index_in_dim(at_row, j, 1, False)

    def commit(self, params, cache, labels, i, j, x_pixel):
        return jax.lax.dynamic_update_slice(cache, x_pixel[:, None, None, :], (0, i, j, 0))


class ImageAutoregressive(NamedTuple):
    """The trainer's Family (with `pieces`, whose decode is the cached scan where the model has a
    cached generator) plus what a benchmark or a test needs beyond it."""

    family: Family
    # The same decode scan over `NaiveGenerator` (one full network pass a step): the reference.
    decode_naive: Callable[..., tuple[jax.Array, Any]]
    sample_naive: Callable[..., jax.Array]  # (variables, rng, num) -> [num, H, W, C] levels
    sample_cached: Callable[..., jax.Array] | None
    forward: Callable[..., jax.Array]  # the network: (ctx, x in [-1, 1], labels) -> [B, H, W, P]
    # Whether the network's output at a pixel reads that pixel's earlier channels, so that the
    # decode runs it once per sub-pixel rather than once per pixel.
    sees_own_pixel: bool


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
    (channel-masked PixelCNNs), so the decode reruns it per sub-pixel; PixelCNN++ conditions on
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

    def check_labels(batch, num, where):
        labels = batch.get('label') if isinstance(batch, dict) else None
        if labels is None:
            raise BadInputError(f"{where}: the class-conditional model needs batch['label']")
        if isinstance(labels, jax.core.Tracer):
            return
        labels = np.asarray(labels)
        if labels.shape != (num,) or not np.issubdtype(labels.dtype, np.integer):
            raise BadInputError(f'{where}: needs integer labels of shape ({num},)')
        if labels.min() < 0 or labels.max() >= num_classes:
            raise BadInputError(f'{where}: labels outside [0, {num_classes - 1}]')

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
            check_labels(batch, x.shape[0], where)

    def network_out(params, batch, rng=None, train=False):
        x = batch[data_spec.key]
        ctx = ApplyCtx(params, rng, train)
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
    def log_prob(variables, batch, rng=None):
        del rng  # exact and deterministic
        check(batch, f'{name}.log_prob')
        return compiled_log_prob(model_params(variables), batch)

    def conditionals(variables, batch):
        check(batch, f'{name}.conditionals')
        return compiled_conditionals(model_params(variables), batch)

    def loss(variables, batch, ctx):
        out, x = network_out(model_params(variables), batch, ctx.rng, train=True)
        nll = -head.pixel_log_prob(out, x).sum(axis=(1, 2)).mean()
        # Per-dimension nats, so the learning rate does not depend on the image size.
        metrics = {'bpd/total': bits_per_dim(nll, num_dims)}
        return {'model': nll / num_dims}, metrics, unchanged_state(variables)

    def decode_with(generator):
        """The decode scan over `generator`: rows, then pixels, then channels (unrolled)."""

        def decode(variables, choose, carry, num, batch=None):
            labels = None
            if class_conditional:
                check_labels(batch, num, f'{name}.decode')
                labels = labels_of(batch)
            one = jnp.zeros((1, height, width, channels), jnp.float32)
            # Kernels masked and weight-normalised once, not at every pixel.
            p = effective_params(forward, model_params(variables), one, _first(labels))
            cache = generator.start(p, labels, jnp.zeros((num, channels), jnp.float32))

            def pixel_body(i, j, state):
                x, cache, carry = state
                pixel = jnp.zeros((num, channels), jnp.int32)
                out = None
                for c in range(channels):
                    if out is None or sees_own_pixel:
                        cache, out = generator.pixel(p, cache, labels, i, j, to_unit(pixel, levels))
                    index = ((i * width + j) * channels + c).astype(jnp.int32)
                    value, carry = choose(carry, head.conditional(out, pixel, c), index)
                    pixel = pixel.at[:, c].set(value.astype(jnp.int32))
                # The finished pixel goes into the buffers that later pixels read.
                cache = generator.commit(p, cache, labels, i, j, to_unit(pixel, levels))
                x = jax.lax.dynamic_update_slice(x, pixel[:, None, None, :], (0, i, j, 0))
                return x, cache, carry

            def row_body(i, state):
                x, cache, carry = state
                above = jax.lax.dynamic_index_in_dim(x, jnp.maximum(i - 1, 0), 1, False)
                cache = generator.row(p, cache, labels, i, to_unit(above, levels))
                return jax.lax.fori_loop(
                    0, width, lambda j, s: pixel_body(i, j, s), (x, cache, carry)
                )

            x0 = jnp.zeros((num, height, width, channels), jnp.int32)
            x, _, carry = jax.lax.fori_loop(0, height, row_body, (x0, cache, carry))
            return x, carry

        return decode

    def sampler(decode):
        def sample(variables, rng, num):
            batch = {'label': jnp.arange(num) % num_classes} if class_conditional else None
            return decode(variables, draw, rng, num, batch)[0]

        return sample

    decode_naive = decode_with(NaiveGenerator(forward, (height, width)))
    decode_cached = decode_with(cached) if cached is not None else None
    pieces = Pieces(
        event_shape=(height, width, channels),
        num_levels=levels,
        order=np.arange(num_dims),
        conditionals=conditionals,
        decode=decode_cached or decode_naive,
    )
    sample_cached = sampler(decode_cached) if cached is not None else None
    sample_naive = sampler(decode_naive)
    family = Family(
        init=init,
        loss=loss,
        sample=sample_cached or sample_naive,
        log_prob=log_prob,
        pieces=pieces,
    )
    return ImageAutoregressive(
        family, decode_naive, sample_naive, sample_cached, forward, sees_own_pixel
    )


def _first(labels):
    return None if labels is None else labels[:1]
