"""The phase-decomposed transposed convolution equals flax's, values and gradients."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.layers.conv_transpose import ConvTranspose, conv_transpose

# Kernel, stride, padding and output channels: 4 runs all phases as one stacked convolution,
# 40 one convolution per phase.
CASES = [
    (3, 1, 'SAME', 4),
    (2, 2, 'VALID', 4),
    (4, 2, 'SAME', 4),
    (5, 2, 'VALID', 4),
    (3, 2, 'SAME', 40),
    (5, 2, 'SAME', 40),
    (4, 2, 'VALID', 40),
    (4, 3, 'SAME', 40),
]


@pytest.mark.parametrize('kernel,stride,padding,channels', CASES)
def test_equals_flax_conv_transpose(kernel, stride, padding, channels):
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 6, 3))
    k = jax.random.normal(jax.random.PRNGKey(1), (kernel, kernel + (stride > 1), 3, channels))
    strides = (stride, stride)
    reference = jax.lax.conv_transpose(
        x, k, strides, padding, dimension_numbers=('NHWC', 'HWIO', 'NHWC')
    )
    ours = conv_transpose(x, k, strides, padding)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5)

    def loss(f):
        return lambda x, k: jnp.sum(jnp.sin(f(x, k)))

    ref_grads = jax.grad(
        loss(
            lambda x, k: jax.lax.conv_transpose(
                x, k, strides, padding, dimension_numbers=('NHWC', 'HWIO', 'NHWC')
            )
        ),
        argnums=(0, 1),
    )(x, k)
    our_grads = jax.grad(loss(lambda x, k: conv_transpose(x, k, strides, padding)), (0, 1))(x, k)
    for ours_g, ref_g in zip(our_grads, ref_grads, strict=True):
        np.testing.assert_allclose(ours_g, ref_g, rtol=1e-4, atol=1e-4)


def test_module_is_a_drop_in_for_flax():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 5))
    flax_layer = nn.ConvTranspose(7, (5, 5), (2, 2), padding='SAME')
    params = flax_layer.init(jax.random.PRNGKey(1), x)
    params = jax.tree.map(lambda p: p + 0.1, params)  # a non-zero bias too
    ours = ConvTranspose(7, (5, 5), (2, 2), padding='SAME')
    assert jax.tree.map(jnp.shape, ours.init(jax.random.PRNGKey(1), x)) == jax.tree.map(
        jnp.shape, params
    )
    np.testing.assert_allclose(
        ours.apply(params, x), flax_layer.apply(params, x), rtol=1e-5, atol=1e-5
    )


def test_bad_padding_is_refused():
    with pytest.raises(ValueError, match="'SAME' or 'VALID'"):
        conv_transpose(jnp.ones((1, 4, 4, 1)), jnp.ones((3, 3, 1, 1)), (2, 2), 'CIRCULAR')
