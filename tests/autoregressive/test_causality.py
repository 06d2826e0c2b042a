"""Autoregressive structure by gradient sparsity: the output distribution of every sub-pixel
(or dimension) has exactly zero gradient with respect to itself and everything after it in the
model's order; Gated PixelCNN additionally has no blind spot, while PixelCNN does."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.autoregressive import gated_pixelcnn, made, nade, pixelcnn, pixelcnnpp
from models.autoregressive.layers import ApplyCtx
from models.data import image_spec
from tests.perturb import perturbed

H, W, C, K = 4, 4, 3, 4
SPEC = image_spec((H, W, C), K)


def _perturbed(params, scale=0.3):
    return perturbed(params, scale, seed=0)


def _image_jacobian(net_forward, params, per_channel_outputs, images=8):
    """|d out(i, j, c) / d x(a, b, e)| as [H, W, C, H, W, C] (C_out = 1 if not per channel),
    summed over a few random inputs: a ReLU that happens to be off at one input cannot hide a
    dependence, and a zero that holds at every input is structural. The inputs are continuous and
    wider than the data's [-1, 1]: the first sub-pixels depend on a single input, and over the
    data's few levels every ReLU on that path can be off (it was, for one initialisation)."""
    xs = 3.0 * jax.random.normal(jax.random.PRNGKey(0), (images, H, W, C))
    mix = jax.random.normal(jax.random.PRNGKey(1), (10_000,))

    def outputs(xf):
        out = net_forward(ApplyCtx(params['model']), xf[None], None)[0]  # [H, W, P]
        out = out.reshape(H, W, C if per_channel_outputs else 1, -1)
        # A random projection of each position's outputs: no accidental cancellation.
        return jnp.sum(out * mix[: out.shape[-1]], axis=-1)

    jac = jax.jit(jax.vmap(jax.jacrev(outputs)))(xs)
    return np.asarray(jnp.abs(jac).sum(axis=0))


def _subpixel_index(h, w, c, channels):
    return (h * W + w) * channels + c


def _violations(jac, channels_out):
    """(dependences on the same or later positions, missing dependences on earlier ones)."""
    later, blind = [], []
    for idx in np.ndindex(H, W, channels_out):
        i, j, c = idx
        for src in np.ndindex(H, W, C):
            a, b, e = src
            if channels_out == 1:  # whole-pixel conditioning: the pixel itself is "later"
                earlier = (a * W + b) < (i * W + j)
            else:
                earlier = _subpixel_index(a, b, e, C) < _subpixel_index(i, j, c, C)
            if not earlier and jac[idx + src] != 0:
                later.append((idx, src))
            if earlier and jac[idx + src] == 0:
                blind.append((idx, src))
    return later, blind


def _head():
    from models.autoregressive.image_family import CategoricalHead

    return CategoricalHead(C, K)


def _init(m):
    x = jax.random.randint(jax.random.PRNGKey(3), (8, H, W, C), 0, K)
    return _perturbed(jax.jit(m.family.init)(jax.random.PRNGKey(4), {'image': x}))


def test_pixelcnn_is_causal_and_has_its_blind_spot():
    m = pixelcnn.model(SPEC, hidden=6, num_blocks=2, out_hidden=12, first_kernel=3)
    later, blind = _violations(_image_jacobian(m.forward, _init(m), True), C)
    assert later == []
    # The blind spot: pixel (1, 0) cannot see (0, 3), above and to the right.
    assert any(idx[:2] == (1, 0) and src[:2] == (0, 3) for idx, src in blind)


@pytest.mark.parametrize('conditional', [False, True])
def test_gated_pixelcnn_is_causal_without_blind_spot(conditional):
    spec = image_spec((H, W, C), K)
    if conditional:
        spec = spec.__class__(**{**spec.__dict__, 'num_classes': 3})
    m = gated_pixelcnn.model(
        spec, features=12, num_layers=4, kernel_size=3, out_hidden=24, class_conditional=conditional
    )
    x = jax.random.randint(jax.random.PRNGKey(3), (8, H, W, C), 0, K)
    batch = {'image': x, 'label': jnp.arange(8) % 3}
    params = _perturbed(jax.jit(m.family.init)(jax.random.PRNGKey(4), batch))
    labels = jnp.array([1]) if conditional else None
    forward = lambda ctx, xf, _: m.forward(ctx, xf, labels)  # noqa: E731
    later, blind = _violations(_image_jacobian(forward, params, True), C)
    assert later == []
    assert blind == [], blind[:20]


def test_pixelcnnpp_is_causal_without_blind_spot_on_every_scale():
    """Three scales on 4x4 (down to 1x1): strided and transposed layers, u-to-ul links and the
    shortcuts. The output at a pixel depends on every earlier pixel and on nothing else (the
    head couples the pixel's own channels, tested below)."""
    m = pixelcnnpp.model(SPEC, filters=6, num_resnet=1, num_mix=2, dropout=0.0, num_scales=3)
    x = jax.random.randint(jax.random.PRNGKey(3), (8, H, W, C), 0, K)
    # The data-dependent init leaves no weight at zero; perturbing its gains saturates units.
    params = jax.jit(m.family.init)(jax.random.PRNGKey(4), {'image': x})
    later, blind = _violations(_image_jacobian(m.forward, params, False), 1)
    assert later == []
    assert blind == [], blind[:20]


def _mixture_head():
    from models.autoregressive.logistic_mixture import LogisticMixtureHead

    return LogisticMixtureHead(C, K, 2)


def test_mixture_channel_c_depends_only_on_earlier_channels_of_its_pixel():
    head = _mixture_head()
    out = jax.random.normal(jax.random.PRNGKey(0), (50, head.num_outputs)) * 2
    levels = jax.random.randint(jax.random.PRNGKey(1), (50, C), 0, K)
    base = head.conditionals(out, levels)
    for c in range(C):
        changed = levels.at[:, c:].set((levels[:, c:] + 1) % K)
        np.testing.assert_array_equal(head.conditionals(out, changed)[:, : c + 1], base[:, : c + 1])
    # The coupling is real: G and B move when R changes.
    red_changed = head.conditionals(out, levels.at[:, 0].set((levels[:, 0] + 1) % K))
    assert np.abs(red_changed[:, 1:] - base[:, 1:]).max() > 1e-3


BIN = image_spec((3, 3, 1), 2)


def test_made_every_mask_respects_its_ordering():
    family, logits, orders = made.model(BIN, hidden=(12, 12), num_masks=4, order_agnostic=True)
    bits = jnp.zeros((4, 3, 3, 1), jnp.int32)
    params = _perturbed(jax.jit(family.init)(jax.random.PRNGKey(0), {'image': bits}))
    assert len({tuple(o) for o in orders}) > 1, 'order-agnostic masks should differ in order'
    x = jax.random.bernoulli(jax.random.PRNGKey(1), 0.5, (9,)).astype(jnp.float32)
    for k, order in enumerate(orders):
        jac = np.abs(np.asarray(jax.jacrev(lambda v, k=k: logits(params, v[None], k)[0])(x)))
        rank = np.empty(9, int)
        rank[order] = np.arange(9)
        earlier = rank[None, :] < rank[:, None]  # [output d, input e]
        assert np.all(jac[~earlier] == 0), f'mask {k} leaks'
        assert np.any(jac[earlier] != 0)


def test_nade_is_causal_in_raster_order_and_sees_every_earlier_dimension():
    family = nade.model(BIN, hidden=8)
    params = _perturbed(
        jax.jit(family.init)(jax.random.PRNGKey(0), {'image': jnp.zeros((4, 3, 3, 1))})
    )
    x = jax.random.bernoulli(jax.random.PRNGKey(1), 0.5, (9,)).astype(jnp.float32)
    jac = np.abs(np.asarray(jax.jacrev(lambda v: nade.logits(params, v[None])[0])(x)))
    earlier = np.tril(np.ones((9, 9), bool), k=-1)
    assert np.all(jac[~earlier] == 0)
    assert np.all(jac[earlier] != 0)
