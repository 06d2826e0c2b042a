"""The Flax Inception-v3 and its loader: a PyTorch-named state dict written to .npz comes back
as the same network (transposes and names checked by the outputs), bad files are refused."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.gan.metrics import inception_v3


def _to_state_dict(variables) -> dict[str, np.ndarray]:
    """The inverse of the loader's mapping, written independently: Flax -> PyTorch names."""
    out = {}
    flat = jax.tree_util.tree_flatten_with_path(variables)[0]
    for path, value in flat:
        keys = [k.key for k in path]
        collection, *names, leaf = keys
        value = np.asarray(value)
        prefix = '.'.join(names)
        if collection == 'batch_stats':
            out[f'{prefix}.running_{leaf}'] = value
        elif names == ['fc']:
            out[f'fc.{"weight" if leaf == "kernel" else "bias"}'] = (
                value.T if leaf == 'kernel' else value
            )
        elif leaf == 'kernel':
            out[f'{prefix}.weight'] = value.transpose(3, 2, 0, 1)  # HWIO -> OIHW
        else:
            out[f'{prefix}.{"weight" if leaf == "scale" else "bias"}'] = value
    return out


def test_weights_round_trip_through_a_pytorch_state_dict(tmp_path):
    """Exact round trip of every weight, shapes of the outputs (no compilation: the full network
    takes minutes to compile on a loaded 2-core machine)."""
    module = inception_v3.InceptionV3(input_size=75)
    shapes = jax.eval_shape(module.init, jax.random.PRNGKey(0), jnp.zeros((1, 75, 75, 3)))
    rng = np.random.default_rng(0)
    variables = jax.tree.map(lambda s: rng.normal(size=s.shape).astype(np.float32), shapes)
    state_dict = _to_state_dict(variables)
    assert len(state_dict) == 94 * 5 + 2  # 94 conv + bn blocks (5 tensors each) and fc
    assert state_dict['Conv2d_1a_3x3.conv.weight'].shape == (32, 3, 3, 3)
    assert state_dict['Mixed_7c.branch3x3dbl_3b.conv.weight'].shape == (384, 384, 3, 1)
    state_dict['Conv2d_1a_3x3.bn.num_batches_tracked'] = np.array(7)
    path = str(tmp_path / 'inception.npz')
    np.savez(path, **state_dict)

    loaded_module, loaded = inception_v3.load(path, 75)
    for (key, want), (key2, got) in zip(
        jax.tree_util.tree_flatten_with_path(variables)[0],
        jax.tree_util.tree_flatten_with_path(loaded)[0],
        strict=True,
    ):
        assert key == key2
        np.testing.assert_array_equal(got, want, err_msg=jax.tree_util.keystr(key))
    net = inception_v3.feature_net(path, input_size=75)
    grey = jax.ShapeDtypeStruct((2, 8, 8, 1), jnp.float32)  # grey images are tiled to RGB
    logits, features = jax.eval_shape(net.apply, grey)
    assert logits.shape == (2, 1008) and features.shape == (2, 2048)

    del state_dict['fc.bias']
    state_dict['fc.weight'] = state_dict['fc.weight'][:10]
    bad = str(tmp_path / 'bad.npz')
    np.savez(bad, **state_dict)
    with pytest.raises(ValueError, match='fc'):
        inception_v3.load(bad, 75)


def test_average_pool_ignores_padding():
    x = jnp.ones((1, 4, 4, 1))
    np.testing.assert_allclose(inception_v3._avg_pool_no_pad_count(x), 1.0)
    ramp = jnp.arange(16.0).reshape(1, 4, 4, 1)
    corner = np.mean([0.0, 1.0, 4.0, 5.0])  # the 2x2 in-image part of the corner's window
    np.testing.assert_allclose(inception_v3._avg_pool_no_pad_count(ramp)[0, 0, 0, 0], corner)
