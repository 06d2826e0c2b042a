"""A small convnet trained in this repo on the 8x8 digits, the offline stand-in for Inception-v3
in "digits IS" and "digits FID".

Nothing is downloaded: the first use trains it (a few seconds on 2 CPU cores) with a fixed seed and
procedure, then caches the weights as `digits_classifier_v1.msgpack` in the data directory
(`$GENMODELS_DATA_DIR`, as for the datasets). Training on the train split only keeps the test
split honest for the real-data reference scores. Bump VERSION when the procedure changes.

Input: images in [-1, 1] ([N, 8, 8, 1], the digits' 17 levels mapped linearly). Features: the
64-unit penultimate layer (after ReLU), as FID uses Inception's pool3 layer.
"""

from __future__ import annotations

import logging
import os

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from models.data import default_data_dir, open_split
from models.gan.data_scaling import to_signed
from models.gan.metrics.feature_net import FeatureNet

VERSION = 1
SHAPE = (8, 8, 1)
NUM_LEVELS = 17
TRAIN_STEPS = 600
BATCH = 128
LEARNING_RATE = 2e-3
SEED = 0


class DigitsNet(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = nn.relu(nn.Conv(32, (3, 3))(x))  # [N, 8, 8, 32]
        h = nn.relu(nn.Conv(64, (3, 3), strides=(2, 2))(h))  # [N, 4, 4, 64]
        features = nn.relu(nn.Dense(64)(h.reshape(h.shape[0], -1)))  # [N, 64]
        return nn.Dense(10)(features), features


def _load_split(split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    source, _ = open_split('digits8x8', split, data_dir)
    batch = source.gather(np.arange(len(source)))
    return batch['image'], batch['label']


def train(data_dir: str | None = None, steps: int = TRAIN_STEPS) -> dict:
    """Trains the classifier deterministically on the digits' train split; returns its params."""
    images, labels = _load_split('train', data_dir)
    x_all = to_signed(jnp.asarray(images), NUM_LEVELS)
    y_all = jnp.asarray(labels)
    net = DigitsNet()
    params = net.init(jax.random.PRNGKey(SEED), x_all[:1])['params']
    opt = optax.adam(LEARNING_RATE)

    @jax.jit
    def step(params, opt_state, x, y):
        def loss_fn(p):
            logits, _ = net.apply({'params': p}, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        grads = jax.grad(loss_fn)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    # A Python loop, not lax.scan: XLA's CPU backend ran this scan 30x slower than the loop.
    order = np.random.default_rng(SEED).integers(0, len(images), (steps, BATCH))
    opt_state = opt.init(params)
    for index in order:
        params, opt_state = step(params, opt_state, x_all[index], y_all[index])
    return jax.device_get(params)


def cache_path(data_dir: str | None = None) -> str:
    return os.path.join(data_dir or default_data_dir(), f'digits_classifier_v{VERSION}.msgpack')


def load_or_train(data_dir: str | None = None) -> dict:
    """The cached classifier's params, training (and caching) them at first use."""
    path = cache_path(data_dir)
    template = DigitsNet().init(jax.random.PRNGKey(SEED), jnp.zeros((1, *SHAPE)))['params']
    if os.path.exists(path):
        with open(path, 'rb') as f:
            return flax.serialization.from_bytes(template, f.read())
    logging.getLogger(__name__).info('training the digits classifier (first use): %s', path)
    params = train(data_dir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(flax.serialization.to_bytes(params))
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    return params


def feature_net(data_dir: str | None = None) -> FeatureNet:
    params = load_or_train(data_dir)
    net = DigitsNet()

    def apply(images: jax.Array) -> tuple[jax.Array, jax.Array]:
        return net.apply({'params': params}, images)

    return FeatureNet('digits', SHAPE, apply)
