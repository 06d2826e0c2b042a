"""Inception-v3 in Flax, the network of the Inception score and FID, with a loader for the
standard weights from a file the user supplies (nothing is downloaded at run time).

Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", arXiv:1512.00567.
The layer names, shapes and the FID variants of the blocks follow the widely used PyTorch port of
the 2015-12-05 TensorFlow graph that the Inception score (Salimans et al. 2016) and FID (Heusel
et al. 2017) were defined with (pytorch-fid's `FIDInceptionA/C/E`: average pools that do not count
padding, a max pool in the last block, 1008 logits). Batch norm uses the stored running
statistics with epsilon 1e-3; features are the 2048-d average pool ("pool3"), logits the fc layer.

Weights: an `.npz` holding a PyTorch state dict of that port under its own key names
(`Conv2d_1a_3x3.conv.weight`, `Mixed_5b.branch1x1.bn.running_mean`, ..., `fc.weight`), made
once on a machine with PyTorch from the `pt_inception-2015-12-05-*.pth` file:
    python -c "import torch, numpy as np; sd = torch.load('pt_inception.pth');
               np.savez('inception_v3.npz', **{k: v.numpy() for k, v in sd.items()})"
A `.pth` file is read directly when PyTorch is installed.

Input: images in [-1, 1], any size, resized bilinearly to 299x299 (the port's own resize). Scores
from these weights match the TensorFlow graph's closely but not bit for bit; papers' numbers
(Inception score 11.24 on real CIFAR-10) were computed with the TensorFlow graph.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models.gan.metrics.feature_net import FeatureNet

INPUT_SIZE = 299
NUM_CLASSES = 1008


class BasicConv(nn.Module):
    features: int
    kernel: tuple[int, int]
    strides: int = 1
    padding: tuple[int, int] = (0, 0)

    @nn.compact
    def __call__(self, x):
        pads = ((self.padding[0],) * 2, (self.padding[1],) * 2)
        x = nn.Conv(self.features, self.kernel, self.strides, pads, use_bias=False, name='conv')(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name='bn')(x)
        return nn.relu(x)


def _avg_pool_no_pad_count(x):
    """3x3 stride-1 average that divides by the in-image count (count_include_pad=False)."""
    pad = ((1, 1), (1, 1))
    total = nn.avg_pool(x, (3, 3), (1, 1), pad, count_include_pad=True) * 9.0
    ones = jnp.ones((1, *x.shape[1:3], 1), x.dtype)
    count = nn.avg_pool(ones, (3, 3), (1, 1), pad, count_include_pad=True) * 9.0
    return total / count


def _max_pool(x, strides=2, padding=((0, 0), (0, 0))):
    return nn.max_pool(x, (3, 3), (strides, strides), padding)


class InceptionA(nn.Module):
    pool_features: int

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv(64, (1, 1), name='branch1x1')(x)
        b5 = BasicConv(48, (1, 1), name='branch5x5_1')(x)
        b5 = BasicConv(64, (5, 5), padding=(2, 2), name='branch5x5_2')(b5)
        b3 = BasicConv(64, (1, 1), name='branch3x3dbl_1')(x)
        b3 = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(b3)
        b3 = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_3')(b3)
        bp = BasicConv(self.pool_features, (1, 1), name='branch_pool')(_avg_pool_no_pad_count(x))
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
    @nn.compact
    def __call__(self, x):
        b3 = BasicConv(384, (3, 3), strides=2, name='branch3x3')(x)
        bd = BasicConv(64, (1, 1), name='branch3x3dbl_1')(x)
        bd = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(bd)
        bd = BasicConv(96, (3, 3), strides=2, name='branch3x3dbl_3')(bd)
        return jnp.concatenate([b3, bd, _max_pool(x)], axis=-1)


class InceptionC(nn.Module):
    channels_7x7: int

    @nn.compact
    def __call__(self, x):
        c7 = self.channels_7x7
        b1 = BasicConv(192, (1, 1), name='branch1x1')(x)
        b7 = BasicConv(c7, (1, 1), name='branch7x7_1')(x)
        b7 = BasicConv(c7, (1, 7), padding=(0, 3), name='branch7x7_2')(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name='branch7x7_3')(b7)
        bd = BasicConv(c7, (1, 1), name='branch7x7dbl_1')(x)
        bd = BasicConv(c7, (7, 1), padding=(3, 0), name='branch7x7dbl_2')(bd)
        bd = BasicConv(c7, (1, 7), padding=(0, 3), name='branch7x7dbl_3')(bd)
        bd = BasicConv(c7, (7, 1), padding=(3, 0), name='branch7x7dbl_4')(bd)
        bd = BasicConv(192, (1, 7), padding=(0, 3), name='branch7x7dbl_5')(bd)
        bp = BasicConv(192, (1, 1), name='branch_pool')(_avg_pool_no_pad_count(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
    @nn.compact
    def __call__(self, x):
        b3 = BasicConv(192, (1, 1), name='branch3x3_1')(x)
        b3 = BasicConv(320, (3, 3), strides=2, name='branch3x3_2')(b3)
        b7 = BasicConv(192, (1, 1), name='branch7x7x3_1')(x)
        b7 = BasicConv(192, (1, 7), padding=(0, 3), name='branch7x7x3_2')(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name='branch7x7x3_3')(b7)
        b7 = BasicConv(192, (3, 3), strides=2, name='branch7x7x3_4')(b7)
        return jnp.concatenate([b3, b7, _max_pool(x)], axis=-1)


class InceptionE(nn.Module):
    max_pool: bool  # the last block of the 2015 graph pools by max, the one before by average

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv(320, (1, 1), name='branch1x1')(x)
        b3 = BasicConv(384, (1, 1), name='branch3x3_1')(x)
        b3 = jnp.concatenate(
            [
                BasicConv(384, (1, 3), padding=(0, 1), name='branch3x3_2a')(b3),
                BasicConv(384, (3, 1), padding=(1, 0), name='branch3x3_2b')(b3),
            ],
            axis=-1,
        )
        bd = BasicConv(448, (1, 1), name='branch3x3dbl_1')(x)
        bd = BasicConv(384, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(bd)
        bd = jnp.concatenate(
            [
                BasicConv(384, (1, 3), padding=(0, 1), name='branch3x3dbl_3a')(bd),
                BasicConv(384, (3, 1), padding=(1, 0), name='branch3x3dbl_3b')(bd),
            ],
            axis=-1,
        )
        if self.max_pool:
            pooled = _max_pool(x, strides=1, padding=((1, 1), (1, 1)))
        else:
            pooled = _avg_pool_no_pad_count(x)
        bp = BasicConv(192, (1, 1), name='branch_pool')(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class InceptionV3(nn.Module):
    """[N, H, W, 3] in [-1, 1] -> (logits [N, 1008], pool3 features [N, 2048])."""

    input_size: int = INPUT_SIZE

    @nn.compact
    def __call__(self, x):
        n = x.shape[0]
        x = jax.image.resize(x, (n, self.input_size, self.input_size, 3), 'bilinear', False)
        x = BasicConv(32, (3, 3), strides=2, name='Conv2d_1a_3x3')(x)
        x = BasicConv(32, (3, 3), name='Conv2d_2a_3x3')(x)
        x = BasicConv(64, (3, 3), padding=(1, 1), name='Conv2d_2b_3x3')(x)
        x = _max_pool(x)
        x = BasicConv(80, (1, 1), name='Conv2d_3b_1x1')(x)
        x = BasicConv(192, (3, 3), name='Conv2d_4a_3x3')(x)
        x = _max_pool(x)
        x = InceptionA(32, name='Mixed_5b')(x)
        x = InceptionA(64, name='Mixed_5c')(x)
        x = InceptionA(64, name='Mixed_5d')(x)
        x = InceptionB(name='Mixed_6a')(x)
        x = InceptionC(128, name='Mixed_6b')(x)
        x = InceptionC(160, name='Mixed_6c')(x)
        x = InceptionC(160, name='Mixed_6d')(x)
        x = InceptionC(192, name='Mixed_6e')(x)
        x = InceptionD(name='Mixed_7a')(x)
        x = InceptionE(max_pool=False, name='Mixed_7b')(x)
        x = InceptionE(max_pool=True, name='Mixed_7c')(x)
        features = x.mean(axis=(1, 2))  # [N, 2048]
        return nn.Dense(NUM_CLASSES, name='fc')(features), features


def variables_from_state_dict(state_dict: dict[str, np.ndarray]) -> dict:
    """A PyTorch state dict of the port (name -> array) -> Flax {'params', 'batch_stats'}."""
    params: dict = {}
    stats: dict = {}

    def put(tree, path, value):
        for part in path[:-1]:
            tree = tree.setdefault(part, {})
        tree[path[-1]] = jnp.asarray(value, jnp.float32)

    for name, value in state_dict.items():
        *path, leaf = name.split('.')
        value = np.asarray(value)
        if leaf == 'num_batches_tracked':
            continue
        if path[-1] == 'conv' and leaf == 'weight':
            put(params, [*path, 'kernel'], value.transpose(2, 3, 1, 0))  # OIHW -> HWIO
        elif path[-1] == 'bn':
            target = {
                'weight': (params, 'scale'),
                'bias': (params, 'bias'),
                'running_mean': (stats, 'mean'),
                'running_var': (stats, 'var'),
            }[leaf]
            put(target[0], [*path, target[1]], value)
        elif path == ['fc']:
            put(
                params,
                ['fc', 'kernel' if leaf == 'weight' else 'bias'],
                value.T if leaf == 'weight' else value,
            )
        else:
            raise ValueError(f'unexpected Inception-v3 weight {name!r} of shape {value.shape}')
    return {'params': params, 'batch_stats': stats}


def read_state_dict(path: str) -> dict[str, np.ndarray]:
    if path.endswith('.npz'):
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    if path.endswith(('.pth', '.pt')):
        try:
            import torch
        except ImportError:
            raise ValueError(
                f'{path}: reading .pth needs PyTorch; convert it to .npz once (see this module)'
            ) from None
        return {k: v.numpy() for k, v in torch.load(path, map_location='cpu').items()}
    raise ValueError(f'{path}: expected an .npz (or .pth) Inception-v3 state dict')


@functools.cache
def load(path: str, input_size: int = INPUT_SIZE) -> tuple[InceptionV3, dict]:
    """(module, variables) from a weights file, checked against the architecture's shapes."""
    module = InceptionV3(input_size)
    variables = variables_from_state_dict(read_state_dict(path))
    expected = jax.eval_shape(module.init, jax.random.PRNGKey(0), jnp.zeros((1, 75, 75, 3)))
    want = jax.tree_util.tree_flatten_with_path(expected)[0]
    have = dict(jax.tree_util.tree_flatten_with_path(variables)[0])
    for key, leaf in want:
        if key not in have:
            raise ValueError(f'{path}: missing Inception-v3 weight {jax.tree_util.keystr(key)}')
        if tuple(have[key].shape) != tuple(leaf.shape):
            raise ValueError(
                f'{path}: {jax.tree_util.keystr(key)} has shape {have[key].shape}, '
                f'expected {leaf.shape}'
            )
    return module, variables


def feature_net(path: str, input_size: int = INPUT_SIZE) -> FeatureNet:
    module, variables = load(path, input_size)

    def apply(images):
        if images.shape[-1] == 1:  # grey images: the same value in every colour channel
            images = jnp.repeat(images, 3, axis=-1)
        return module.apply(variables, images)

    return FeatureNet('inception', (input_size, input_size, 3), apply)
