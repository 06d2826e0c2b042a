"""The Bit-Swap hierarchy: its LatentVariable pieces are the distributions the objective uses,
free bits per (layer, channel), and 8 devices train like 1."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from models.core import mesh as mesh_lib
from models.core.family import Variables
from models.core.pieces import LatentVariable
from models.core.step import make_init, make_train_step
from models.data.sources import image_spec
from models.vae import distributions as D
from models.vae.bounds import free_bits_per_channel
from models.vae.hierarchy import model, round_robin

SPEC = image_spec((4, 4, 2), 9)
TINY = {'num_layers': 2, 'zchannels': 2, 'width': 8, 'blocks': 1, 'processing': 1}


@pytest.fixture(scope='module')
def trained():
    family = model(SPEC, **TINY, dropout_rate=0.2, iw_samples=1, iw_chunk=1)
    batch = {'image': jnp.asarray(np.random.default_rng(0).integers(0, 9, (6, 4, 4, 2)))}
    variables = Variables(jax.jit(family.init)(jax.random.PRNGKey(0), batch), {})
    return family, variables, batch


def test_pieces_chain_gives_the_families_log_weight(trained):
    """With one importance sample the reported bound is log p(x|z1) + sum log p - sum log q of one
    draw of the chain: rebuilt here from the pieces alone, on the same draws."""
    family, variables, batch = trained
    pieces = family.pieces
    assert isinstance(pieces, LatentVariable) and pieces.latent_shapes == ((2, 2, 2),) * 2

    def from_pieces(variables, x, key):
        # The family draws chunk 0 with fold_in(key, 0), then one key per layer.
        keys = jax.random.split(jax.random.fold_in(key, 0), 2)
        q1 = pieces.posterior(variables, 1, x)
        z1 = q1.sample(keys[0])
        q2 = pieces.posterior(variables, 2, z1)
        z2 = q2.sample(keys[1])
        px = pieces.likelihood(variables, z1)
        total = D.sum_except_batch(px.log_prob(x))
        total += D.sum_except_batch(pieces.prior(variables, 1, z2).log_prob(z1) - q1.log_prob(z1))
        total += D.sum_except_batch(pieces.prior(variables, 2, None).log_prob(z2) - q2.log_prob(z2))
        bins = jnp.exp(px.bin_log_probs()).sum(-1)
        return total, bins

    key = jax.random.PRNGKey(5)
    total, bins = jax.jit(from_pieces)(variables, batch['image'], key)
    reported = jax.jit(family.log_prob)(variables, batch, key)
    np.testing.assert_allclose(reported['iw'], total, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(reported['elbo'], total, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(bins, 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match='layers are 1..2'):
        pieces.prior(variables, 3, None)


def test_free_bits_per_channel_leave_a_channel_below_its_floor_without_gradient():
    kl = jnp.concatenate([jnp.full((3, 2, 2, 1), 0.01), jnp.full((3, 2, 2, 1), 1.0)], axis=-1)
    grad = jax.grad(lambda k: free_bits_per_channel(k, 0.5))(kl)
    np.testing.assert_array_equal(grad[..., 0], 0.0)  # channel 0 holds 0.04 nats < 0.5
    np.testing.assert_allclose(grad[..., 1], 1.0 / 3)
    assert round_robin(8, 3) == (3, 3, 2) and round_robin(2, 4) == (1, 1, 0, 0)


def _train(num_devices, family, batches):
    mesh = mesh_lib.make_mesh(num_devices)
    opts, ema = {'model': optax.sgd(0.05)}, {'model': 0.9}
    rep, data = mesh_lib.replicated(mesh), mesh_lib.data_sharded(mesh)
    init = jax.jit(make_init(family, opts, ema), out_shardings=rep)
    state = init(jax.random.PRNGKey(0), mesh_lib.global_batch(batches[0], mesh))
    step = jax.jit(
        make_train_step(family, opts, ema), in_shardings=(rep, data), out_shardings=(rep, rep)
    )
    losses = []
    for b in batches:
        state, metrics = step(state, mesh_lib.global_batch(b, mesh))
        losses.append(float(metrics['model/loss']))
    return losses, jax.device_get(state)


def test_eight_devices_match_one():
    """Data-dependent init of the weight norm, dropout and the chain's draws agree between 1 and 8
    devices for the same global batch."""
    smallest = {**TINY, 'blocks': 1, 'processing': 0}  # the step compiles twice: keep it small
    family = model(SPEC, **smallest, dropout_rate=0.2, iw_samples=1, iw_chunk=1)
    rng = np.random.default_rng(1)
    batches = [{'image': rng.integers(0, 9, (16, 4, 4, 2)).astype(np.uint8)} for _ in range(2)]
    losses1, state1 = _train(1, family, batches)
    losses8, state8 = _train(8, family, batches)
    np.testing.assert_allclose(losses8, losses1, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(state8), jax.tree.leaves(state1), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
