"""Convolutions over explicit parameter dicts, written once and run in three modes.

A network is a plain function `forward(ctx, x, ...)` that calls `ctx.conv(name, x, spec)`. The
context decides what that means:
  InitCtx   creates each layer's parameters (with data-dependent weight-norm init, Salimans &
            Kingma 2016, arXiv:1602.07868) while running the forward pass on a first batch;
  ApplyCtx  runs the layer over whole images [B, H, W, C];
  the cached contexts in `cached.py` run it at one position (or one row) against stored inputs.
So the sampler and the trainer can never disagree about the architecture.

A `ConvSpec` is causal by construction: output (i, j) reads input rows i - top .. i - top + kh - 1
and columns j - left .. j - left + kw - 1; rows below i are never read. An optional mask zeroes
kernel entries after the centre (i, j) in raster order and, at the centre, the channels of later
colour groups ('A': strictly earlier groups; 'B': earlier or the same group; PixelCNN,
van den Oord et al. 2016, arXiv:1601.06759).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from models.layers.dropout import dropout
from models.layers.weight_norm import data_dependent_init, normalised


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    kh: int
    kw: int
    top: int  # rows above the output row that the kernel reaches (kh - 1 - top rows below)
    left: int  # columns left of the output column
    cout: int
    mask: str | None = None  # None, 'A' or 'B'
    groups: int = 1  # colour groups for the channel mask
    gated_out: bool = False  # the two halves of the output channels are gated pairs
    stride: int = 1
    transpose: bool = False  # stride-2 up-sampling (PixelCNN++'s shifted deconvolutions)
    init_scale: float = 1.0  # weight-norm data-dependent init: output std after init


def pointwise(cout: int, mask: str | None = None, groups: int = 1, **kw) -> ConvSpec:
    return ConvSpec(1, 1, 0, 0, cout, mask, groups, **kw)


def channel_group(index: np.ndarray, channels: int, groups: int) -> np.ndarray:
    """Contiguous blocks: channel f of n belongs to colour group f * G // n."""
    return index * groups // channels


def kernel_mask(spec: ConvSpec, cin: int) -> np.ndarray | None:
    """[kh, kw, cin, cout] 0/1 mask, or None for an unmasked layer."""
    if spec.mask is None:
        return None
    mask = np.ones((spec.kh, spec.kw, cin, spec.cout), np.float32)
    centre_row, centre_col = spec.top, spec.left
    mask[centre_row, centre_col + 1 :] = 0.0
    mask[centre_row + 1 :] = 0.0
    gin = channel_group(np.arange(cin), cin, spec.groups)
    out_index = np.arange(spec.cout)
    if spec.gated_out:
        out_index = out_index % (spec.cout // 2)
        gout = channel_group(out_index, spec.cout // 2, spec.groups)
    else:
        gout = channel_group(out_index, spec.cout, spec.groups)
    allowed = gin[:, None] < gout[None, :] if spec.mask == 'A' else gin[:, None] <= gout[None, :]
    mask[centre_row, centre_col] = allowed.astype(np.float32)
    return mask


def init_conv(normal: jax.Array, spec: ConvSpec, cin: int, weight_norm: bool) -> dict:
    """Parameters from a standard-normal draw of the kernel's shape."""
    if weight_norm:
        # As in the PixelCNN++ code: small random directions; g and b are set from data.
        return {'v': 0.05 * normal, 'g': jnp.ones((spec.cout,)), 'b': jnp.zeros((spec.cout,))}
    fan_in = spec.kh * spec.kw * cin
    return {'w': normal / np.sqrt(fan_in), 'b': jnp.zeros((spec.cout,))}


def kernel(params: dict, spec: ConvSpec, cin: int) -> jax.Array:
    """The effective [kh, kw, cin, cout] kernel: masked, and weight-normalised if `v` is present."""
    if 'kernel' in params:  # already effective (see `effective_params`)
        return params['kernel']
    mask = kernel_mask(spec, cin)
    if 'v' in params:
        return normalised(params['v'] if mask is None else params['v'] * mask, params['g'])
    return params['w'] if mask is None else params['w'] * mask


def conv_full(x: jax.Array, w: jax.Array, spec: ConvSpec) -> jax.Array:
    """[B, H, W, cin] -> [B, H', W', cout] (no bias)."""
    dims = ('NHWC', 'HWIO', 'NHWC')
    if spec.kh == 1 and spec.kw == 1 and spec.stride == 1:
        return jnp.einsum('bhwc,cd->bhwd', x, w[0, 0])
    if spec.transpose:
        # The input is dilated by the stride and padded by (top, kh - top) rows and (left,
        # kw - left) columns, so the output is exactly stride x the input's size. With top = 1
        # and kh = 2, output row y reads input rows r with 2r <= y (its own block and earlier
        # ones): the up-sampled stream is as causal as its input.
        return jax.lax.conv_general_dilated(
            x,
            w,
            window_strides=(1, 1),
            padding=((spec.top, spec.kh - spec.top), (spec.left, spec.kw - spec.left)),
            lhs_dilation=(spec.stride, spec.stride),
            dimension_numbers=dims,
        )
    return jax.lax.conv_general_dilated(
        x,
        w,
        window_strides=(spec.stride, spec.stride),
        padding=((spec.top, spec.kh - 1 - spec.top), (spec.left, spec.kw - 1 - spec.left)),
        dimension_numbers=dims,
    )


class ApplyCtx:
    """Whole-image forward pass with given parameters; `rng` only for dropout in training."""

    def __init__(self, params: dict, rng: jax.Array | None = None, train: bool = False):
        self.params = params
        self.rng = rng
        self.train = train
        self._dropouts = 0

    def conv(self, name: str, x: jax.Array, spec: ConvSpec) -> jax.Array:
        p = self.params[name]
        return conv_full(x, kernel(p, spec, x.shape[-1]), spec) + p['b']

    def embed(self, name: str, labels: jax.Array, num: int, dim: int) -> jax.Array:
        return self.params[name]['table'][labels]

    def spatial(self, v: jax.Array) -> jax.Array:
        """A per-example vector [B, D] broadcast over the image."""
        return v[:, None, None, :]

    def dropout(self, x: jax.Array, rate: float) -> jax.Array:
        if not self.train or rate <= 0.0:
            return x
        self._dropouts += 1
        return dropout(x, rate, jax.random.fold_in(self.rng, self._dropouts))


def effective_params(forward, params: dict, x: jax.Array, labels=None) -> dict:
    """Every layer's effective kernel, masked and weight-normalised once: the sampling loops
    would otherwise redo it at every pixel. Traced on x (one image is enough); only the kernels
    are used, so the pass itself is dead code to XLA."""
    found = {}

    class Recorder(ApplyCtx):
        def conv(self, name, x, spec):
            p = self.params[name]
            found[name] = {'kernel': kernel(p, spec, x.shape[-1]), 'b': p['b']}
            return super().conv(name, x, spec)

    forward(Recorder(params), x, labels)
    return {**params, **found}


class InitCtx(ApplyCtx):
    """Creates parameters while running the forward pass on an init batch.

    With `weight_norm`, each layer's g and b are chosen so that its pre-activation has zero mean
    and std `spec.init_scale` over the batch (Salimans & Kingma 2016), layer by layer, each seeing
    the already-initialised layers below it.

    `normals` yields each layer's standard-normal draw in call order (see `init_params`).
    """

    def __init__(self, normals, weight_norm: bool = False):
        super().__init__({}, None, False)
        self.normals = normals
        self.weight_norm = weight_norm

    def conv(self, name: str, x: jax.Array, spec: ConvSpec) -> jax.Array:
        if name in self.params:
            raise ValueError(f'layer name {name!r} used twice')
        cin = x.shape[-1]
        p = init_conv(self.normals((spec.kh, spec.kw, cin, spec.cout)), spec, cin, self.weight_norm)
        if self.weight_norm:
            t = conv_full(x, kernel(p, spec, cin), spec)
            p['g'], p['b'] = data_dependent_init(t, spec.init_scale)
        self.params[name] = p
        return super().conv(name, x, spec)

    def embed(self, name: str, labels: jax.Array, num: int, dim: int) -> jax.Array:
        self.params[name] = {'table': jnp.zeros((num, dim), jnp.float32)}
        return super().embed(name, labels, num, dim)


def init_params(forward, rng: jax.Array, weight_norm: bool, *args) -> dict:
    """Runs `forward(InitCtx, *args)` and returns the parameters it created.

    All kernels come from ONE normal draw, sliced in call order: a separate `jax.random.normal`
    per layer costs XLA about a second of compilation each (threefry), minutes for PixelCNN++.
    A first, abstract pass (no FLOPs) finds the shapes.
    """
    shapes = []

    def record(shape):
        shapes.append(shape)
        return jnp.zeros(shape, jnp.float32)

    jax.eval_shape(lambda *a: forward(InitCtx(record, weight_norm), *a), *args)
    sizes = [int(np.prod(s)) for s in shapes]
    flat = jax.random.normal(rng, (max(sum(sizes), 1),), jnp.float32)
    offsets = iter(np.cumsum([0, *sizes]))

    def take(shape):
        start = next(offsets)
        return jax.lax.slice(flat, (start,), (start + int(np.prod(shape)),)).reshape(shape)

    ctx = InitCtx(take, weight_norm)
    forward(ctx, *args)
    return ctx.params
