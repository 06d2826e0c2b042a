"""The ResNet VAE with bidirectional inference: the conv IAF step's autoregressive structure and
log-determinant, the bounds (IW above the ELBO, per-layer KL non-negative in expectation), free
bits per latent channel per layer, 8 devices against 1, and bad input refused before compiling."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from models.autoregressive.logistic_mixture import to_unit
from models.core import mesh as mesh_lib
from models.core.cold import cold_jit
from models.core.family import Context, Variables
from models.core.inputs import BadInputError
from models.data import image_spec
from models.vae import resnet_vae
from models.vae.conv_iaf import ConvIAFStep
from tests.perturb import perturbed

SPEC = image_spec((8, 8, 1), 17)
# Two layers, the second down-sampling (strided up conv, transposed down conv); and one layer,
# diagonal, where the structure does not matter (compile time is these tests' cost).
TINY = {'depth': 2, 'num_blocks': 1, 'h_size': 8, 'z_size': 2}
ONE_LAYER = {'depth': 1, 'num_blocks': 1, 'h_size': 8, 'z_size': 2, 'iaf': False}


def _images(num, seed=0):
    return np.random.default_rng(seed).binomial(16, 0.3, (num, 8, 8, 1)).astype(np.int32)


# --- the conv IAF step -------------------------------------------------------------------------

H, W, C, HIDDEN = 3, 3, 2, 4


@pytest.fixture(scope='module')
def iaf_step():
    """A step with random parameters (its zero-centred init would hide dependencies), its input,
    output, per-element log-determinant and Jacobian over the flattened latent."""
    rng = np.random.default_rng(0)
    z = jnp.asarray(rng.standard_normal((1, H, W, C)), jnp.float32)
    context = jnp.asarray(rng.standard_normal((1, H, W, HIDDEN)), jnp.float32)
    step = ConvIAFStep(HIDDEN)
    params = perturbed(cold_jit(step.init)(jax.random.PRNGKey(0), z, context), 0.5)

    @jax.jit
    def run(params, z, context):
        out, log_det = step.apply(params, z, context)
        flat = lambda v: step.apply(params, v.reshape(z.shape), context)[0].reshape(-1)  # noqa: E731
        return out, log_det, jax.jacfwd(flat)(z.reshape(-1))

    return run(params, z, context)


def test_conv_iaf_step_is_autoregressive_over_position_then_channel(iaf_step):
    """Element (i, j, c) is number (i W + j) C + c in the order: the output may depend only on
    earlier elements and, on the diagonal, on itself with slope exp(-s)."""
    _, log_det, jac = (np.asarray(a) for a in iaf_step)
    later = np.triu(np.ones_like(jac, bool), k=1)  # input after output in the order
    np.testing.assert_array_equal(jac[later], 0.0)
    np.testing.assert_allclose(np.diag(jac), np.exp(log_det.reshape(-1)), rtol=1e-5)
    index = lambda i, j, c: (i * W + j) * C + c  # noqa: E731
    assert jac[index(1, 1, 1), index(1, 1, 0)] != 0  # same position, earlier channel
    assert jac[index(1, 1, 0), index(0, 0, 1)] != 0  # earlier position, any channel
    assert jac[index(2, 1, 0), index(1, 2, 1)] != 0  # the row above, to the right
    # (Not everything earlier is reached: masked 3x3 convs have PixelCNN's blind spot.)


def test_conv_iaf_log_determinant_matches_jacfwd(iaf_step):
    _, log_det, jac = (np.asarray(a) for a in iaf_step)
    sign, log_abs = np.linalg.slogdet(jac)
    assert sign > 0
    np.testing.assert_allclose(log_det.sum(), log_abs, rtol=1e-4, atol=1e-4)
    assert np.abs(log_det).max() > 1e-3  # the step is not a plain identity


# --- the bounds ----------------------------------------------------------------------------------


@pytest.fixture(scope='module')
def diagonal():
    """The diagonal-posterior model with perturbed parameters, so that q and p differ clearly."""
    family, net = resnet_vae.model(SPEC, **TINY, iaf=False, iw_samples=64, iw_chunk=32)
    x = _images(8)
    params = cold_jit(family.init)(jax.random.PRNGKey(0), {'image': x})
    return family, net, Variables(perturbed(params, 0.1), {}), x


def test_importance_weighted_bound_rises_above_the_elbo(diagonal):
    family, _, variables, x = diagonal
    out = jax.jit(family.log_prob)(variables, {'image': x}, jax.random.PRNGKey(1))
    iw, elbo = np.asarray(out['iw']), np.asarray(out['elbo'])
    assert np.all(np.isfinite(iw)) and np.all(out['log_prob'] == out['iw'])
    # Same draws: log-mean-exp >= mean for every example; the gap is what 64 samples buy.
    assert np.all(iw >= elbo - 1e-3), (iw, elbo)
    assert (iw - elbo).mean() > 0.1, (iw, elbo)
    assert np.all(iw < 0) and np.all(-iw / (64 * np.log(2)) < 8)  # a bound on 17-level pixels


def test_per_layer_kl_is_non_negative_in_expectation(diagonal):
    """Many posterior draws of each layer's single-sample KL (log q - log p given the draws above)
    of the same images: every layer's mean must be >= 0 up to sampling error. Scoring the draw
    under the wrong distribution (or the flow's Jacobian with the wrong sign) breaks this."""
    family, net, variables, x = diagonal
    draws = 64

    @jax.jit
    def layer_kls(params):
        apply = lambda *a, method: net.apply({'params': params['model']}, *a, method=method)  # noqa: E731
        stats = apply(to_unit(jnp.asarray(x), 17), method=resnet_vae.ResNetVAENet.up)
        tiled = jax.tree.map(lambda a: jnp.tile(a, (draws, 1, 1, 1)), stats)
        key, rows = jax.random.PRNGKey(2), draws * len(x)
        _, _, kls = apply(tiled, key, rows, method=resnet_vae.ResNetVAENet.down)
        return jnp.stack([kl.reshape(draws, len(x), -1).sum(-1) for kl in kls])  # [L, n, B]

    kls = np.asarray(layer_kls(variables.params))
    mean = kls.mean(axis=1)  # [L, B]
    stderr = kls.std(axis=1) / np.sqrt(draws)
    assert np.all(mean > -3 * stderr - 1e-3), (mean, stderr)
    assert np.all(mean.mean(axis=1) > 0.1)  # perturbed: posterior and prior differ


# --- free bits -----------------------------------------------------------------------------------


def test_free_bits_floor_each_channel_of_each_layer_summed_over_space():
    """Floor 0.5 nats. Layer 0: channel 0 sums to 16 x 0.01 = 0.16 (floored), channel 1 to 8;
    layer 1: channel 0 sums to 4 x 0.16 = 0.64 (every position below the floor, their sum above
    it: not floored), channel 1 to 0.04 (floored). Only floored channels lose their gradient."""
    b = 4
    layer0 = jnp.stack([jnp.full((b, 4, 4), 0.01), jnp.full((b, 4, 4), 0.5)], axis=-1)
    layer1 = jnp.stack([jnp.full((b, 2, 2), 0.16), jnp.full((b, 2, 2), 0.01)], axis=-1)
    objective = jax.jit(jax.value_and_grad(resnet_vae.free_bits_objective), static_argnums=1)
    value, grads = objective([layer0, layer1], 0.5)
    np.testing.assert_allclose(value, 0.5 + 8.0 + 0.64 + 0.5, rtol=1e-6)
    g0, g1 = (np.asarray(g) for g in grads)
    np.testing.assert_array_equal(g0[..., 0], 0.0)
    np.testing.assert_allclose(g0[..., 1], 1.0 / b)
    np.testing.assert_allclose(g1[..., 0], 1.0 / b)
    np.testing.assert_array_equal(g1[..., 1], 0.0)


def _random_params(family, batch, scale=0.3):
    """Random parameters of the family's shapes, without compiling its init."""
    shapes = jax.eval_shape(family.init, jax.random.PRNGKey(0), batch)
    return perturbed(jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes), scale)


def test_channels_below_the_floor_get_no_kl_gradient_in_the_model():
    """With every channel far below kl_min the objective's gradient is the reconstruction's alone
    (the gradient of objective - reconstruction vanishes); without free bits it does not."""
    batch, ctx = {'image': _images(8)}, Context(jax.random.PRNGKey(3), jnp.int32(0))
    params = _random_params(resnet_vae.make(SPEC, **ONE_LAYER), batch)

    def kl_part_gradient(params, kl_min):
        family, _ = resnet_vae.model(SPEC, **ONE_LAYER, kl_min=kl_min)

        def kl_part(params):  # objective - reconstruction, both in nats per dimension
            losses, metrics, _ = family.loss(Variables(params, {}), batch, ctx)
            return losses['model'] - metrics['bpd/recon'] * np.log(2.0)

        return jax.grad(kl_part)(params)

    both = jax.jit(lambda p: (kl_part_gradient(p, 1e4), kl_part_gradient(p, 0.0)))
    floored, no_floor = both(params)
    assert max(np.abs(g).max() for g in jax.tree.leaves(floored)) < 1e-6
    assert max(np.abs(g).max() for g in jax.tree.leaves(no_floor)) > 1e-3


# --- devices and bad input -----------------------------------------------------------------------


def _train_on(num_devices, family, batches):
    """The shared step (SGD, EMA) over a mesh of `num_devices`, as tests/flows/test_learning.py
    does, with the init compiled cold (it runs once)."""
    from models.core.step import make_init, make_train_step

    mesh = mesh_lib.make_mesh(num_devices)
    opts, ema = {'model': optax.sgd(0.05)}, {'model': 0.9}  # SGD: see tests/flows/test_learning
    rep, data = mesh_lib.replicated(mesh), mesh_lib.data_sharded(mesh)
    init = cold_jit(make_init(family, opts, ema), out_shardings=rep)
    state = init(jax.random.PRNGKey(0), mesh_lib.global_batch(batches[0], mesh))
    step = jax.jit(
        make_train_step(family, opts, ema),
        in_shardings=(rep, data),
        out_shardings=(rep, rep),
        donate_argnums=0,
    )
    losses = []
    for b in batches:
        state, metrics = step(state, mesh_lib.global_batch(b, mesh))
        losses.append(float(metrics['model/loss']))
    return losses, jax.device_get(state)


def test_eight_devices_match_one():
    """Data-dependent init over the global batch, the posterior noise and the update agree between
    1 and 8 devices for the same global batch."""
    family = resnet_vae.make(SPEC, **ONE_LAYER, kl_min=0.01)
    batches = [{'image': _images(16, seed)} for seed in range(2)]
    losses1, state1 = _train_on(1, family, batches)
    losses8, state8 = _train_on(8, family, batches)
    np.testing.assert_allclose(losses8, losses1, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(state8), jax.tree.leaves(state1), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_bad_configuration_and_input_are_refused_before_compiling():
    with pytest.raises(ValueError, match=r'\(8, 8\) must be divisible by 16'):
        resnet_vae.make(SPEC, depth=4)
    with pytest.raises(ValueError, match='needs images'):
        resnet_vae.make(image_spec((64,), 17))
    family = resnet_vae.make(SPEC, **TINY)
    variables = Variables(_random_params(family, {'image': _images(2)}), {})
    key = jax.random.PRNGKey(0)
    with pytest.raises(BadInputError, match=r'shape \(16, 16, 1\), expected \(8, 8, 1\)'):
        family.log_prob(variables, {'image': np.zeros((2, 16, 16, 1), np.int32)}, key)
    too_high = np.zeros((2, 8, 8, 1), np.int32)
    too_high[1, 3, 4, 0] = 17
    with pytest.raises(BadInputError, match=r'values span \[0, 17\]'):
        family.log_prob(variables, {'image': too_high}, key)
    with pytest.raises(BadInputError, match=r'shape \(4, 4, 1\), expected \(8, 8, 1\)'):
        jax.jit(family.loss).lower(  # traced: refused while tracing, nothing compiled
            variables, {'image': np.zeros((2, 4, 4, 1), np.int32)}, Context(key, jnp.int32(0))
        )
