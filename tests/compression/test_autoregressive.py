"""Autoregressive coding through the decode scan: the per-pixel baseline fitted to the bundled
digits and a tiny PixelCNN, round trips and codelength against the model's -log2 p."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from compression import ans, autoregressive
from models.autoregressive import made, pixelcnn
from models.baselines import pixel_categorical
from models.data.sources import open_split
from tests.perturb import perturbed

NUM = 16
PRECISION = 16


@pytest.fixture(scope='module')
def digits():
    source, spec = open_split('digits8x8', 'test', None)
    images = source.gather(np.arange(NUM))['image']
    return jnp.asarray(images, jnp.int32), spec


@pytest.fixture(scope='module')
def models(digits):
    """(name, family, variables, to_symbols): the baseline initialised from the test digits'
    histogram (a real model of them), an untrained PixelCNN with perturbed weights (tables vary
    per pixel), and MADE on the digits thresholded at level 8 in a random order (generation order
    is not raster order: the coder must follow `pieces.order`); MADE codes the bits."""
    images, spec = digits
    base = pixel_categorical.make(spec)
    base_vars = base.init(jax.random.PRNGKey(0), {'image': images})
    cnn = pixelcnn.model(spec, hidden=8, num_blocks=1, out_hidden=16, first_kernel=3).family
    cnn_vars = perturbed(jax.jit(cnn.init)(jax.random.PRNGKey(1), {'image': images}), 0.3)
    binary = made.make(spec, hidden=(32,), order_agnostic=True, binarize_at=8)
    binary_vars = perturbed(jax.jit(binary.init)(jax.random.PRNGKey(2), {'image': images}), 0.3)
    same = lambda x: x  # noqa: E731
    bits = lambda x: (x >= 8).astype(jnp.int32)  # noqa: E731
    return [
        ('baseline', base, base_vars, same),
        ('pixelcnn', cnn, cnn_vars, same),
        ('made', binary, binary_vars, bits),
    ]


@pytest.fixture(scope='module')
def coded(digits, models):
    """Each model encodes the digits, an all-zero batch and an all-top batch in one call each
    (streams = images), then decodes them."""
    images, spec = digits
    top = spec.num_levels - 1
    batches = {
        'digits': images,
        'extremes': jnp.concatenate([jnp.zeros_like(images[:8]), jnp.full_like(images[8:], top)]),
    }
    out = {}
    for name, family, variables, to_symbols in models:
        coder = autoregressive.coder(family.pieces, NUM, PRECISION)
        capacity = autoregressive.capacity_words(coder.num_dims, spec.num_levels, PRECISION)
        log_prob = jax.jit(family.log_prob)
        for which, x in batches.items():
            symbols = to_symbols(x)
            stack, cdf = coder.encode(variables, symbols, ans.empty(NUM, capacity))
            decoded, back = coder.decode(variables, stack)
            nll = -np.asarray(log_prob(variables, {'image': x}, jax.random.PRNGKey(0)))
            out[name, which] = (symbols, stack, cdf, decoded, back, nll, capacity)
    return out


@pytest.mark.parametrize('model', ['baseline', 'pixelcnn', 'made'])
@pytest.mark.parametrize('which', ['digits', 'extremes'])
def test_round_trip_and_codelength_against_the_model(coded, model, which):
    x, stack, cdf, decoded, back, nll, capacity = coded[model, which]
    ans.check(stack)
    ans.check(back)
    np.testing.assert_array_equal(decoded, x)
    assert ans.same(back, ans.empty(NUM, capacity))
    bits = ans.content_bits(stack)
    model_bits = nll / np.log(2.0)
    # The coder within 1e-3 bits/symbol of the quantised tables (tested in test_ans), the
    # quantisation at 2^-16 within 0.5% of the float model (its floor of 1/2^16 per level costs
    # about 17/2^16 of the mass), and the head's last fractional bit.
    np.testing.assert_allclose(bits, model_bits, rtol=5e-3, atol=1.0)
    if which == 'digits':
        total, ideal = bits.sum(), model_bits.sum()
        assert abs(total - ideal) / ideal < 2e-3, (total, ideal)


def test_a_batch_encoded_together_decodes_in_parts_with_another_batch_size(coded, digits, models):
    """Tables are per row and streams independent: 16 images encoded in one batch decode as two
    batches of 8 (a coder compiled for 8), odd streams first."""
    images, spec = digits
    _, stack, _, _, _, _, capacity = coded['baseline', 'digits']
    _, family, variables, _ = models[0]
    coder = autoregressive.coder(family.pieces, NUM // 2, PRECISION)
    halves = [ans.take(stack, range(i, NUM, 2)) for i in (1, 0)]  # odd streams first
    parts = [coder.decode(variables, half) for half in halves]
    np.testing.assert_array_equal(parts[0][0], images[1::2])
    np.testing.assert_array_equal(parts[1][0], images[0::2])
    back = ans.concatenate([part[1] for part in parts])
    assert ans.same(back, ans.empty(NUM, capacity))


def test_a_stream_from_another_model_decodes_to_other_images(coded, digits, models):
    """A wrong model does not come back to the empty stack (the container's fingerprint will
    refuse it first; this is what would happen without one)."""
    images, spec = digits
    _, stack, _, _, _, _, capacity = coded['baseline', 'digits']
    _, family, variables, _ = models[1]
    coder = autoregressive.coder(family.pieces, NUM, PRECISION)
    decoded, back = coder.decode(variables, stack)
    assert not np.array_equal(decoded, images)
    assert not ans.same(back, ans.empty(NUM, capacity))
